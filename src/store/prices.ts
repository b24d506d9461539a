import { and, asc, desc, eq, lte, sql } from 'drizzle-orm';
import { type Money, type Price, parsePricePer1k } from '../pricing';
import type { Executor } from './db';
import { prices } from './schema';

/** The instant seeded prices take effect from: before any request. */
export const EPOCH = new Date(0);

type PriceRow = typeof prices.$inferSelect;

function toPrice(row: Pick<PriceRow, 'id' | 'model' | 'promptPer1k' | 'completionPer1k' | 'effectiveFrom'>): Price {
  return {
    id: row.id,
    model: row.model,
    promptPer1k: row.promptPer1k,
    completionPer1k: row.completionPer1k,
    effectiveFrom: row.effectiveFrom,
  };
}

/** Config models by name, with their per-1k prices as decimal USD strings. */
export type ConfiguredPrices = Record<string, { pricePer1k: { prompt: string; completion: string } }>;

/**
 * Gives every configured model that has no price yet a first version effective from the epoch.
 * Models already priced keep their history: later config edits go through addPriceVersion.
 * Safe when two instances seed at once (the unique (model, effective_from) index).
 */
export async function seedPricesFromConfig(ex: Executor, models: ConfiguredPrices): Promise<Price[]> {
  const entries = Object.entries(models);
  if (entries.length === 0) return [];
  const seeds = entries.map(([model, { pricePer1k }]) => ({
    model,
    prompt_per_1k: parsePricePer1k(pricePer1k.prompt).toString(),
    completion_per_1k: parsePricePer1k(pricePer1k.completion).toString(),
  }));
  const rows = await ex.rows<{ id: number }>(sql`
    INSERT INTO prices (model, prompt_per_1k, completion_per_1k, effective_from)
    SELECT s.model, s.prompt_per_1k, s.completion_per_1k, ${EPOCH.toISOString()}::timestamptz
    FROM jsonb_to_recordset(${JSON.stringify(seeds)}::jsonb) AS s(model text, prompt_per_1k bigint, completion_per_1k bigint)
    WHERE NOT EXISTS (SELECT 1 FROM prices p WHERE p.model = s.model)
    ON CONFLICT (model, effective_from) DO NOTHING
    RETURNING id`);
  if (rows.length === 0) return [];
  const inserted = await ex.db
    .select()
    .from(prices)
    .where(sql`${prices.id} = ANY(${`{${rows.map((r) => r.id).join(',')}}`}::int[])`);
  return inserted.map(toPrice);
}

/** A new price version for `model` from `effectiveFrom` on; rows billed before keep theirs. */
export async function addPriceVersion(
  ex: Executor,
  model: string,
  promptPer1k: Money,
  completionPer1k: Money,
  effectiveFrom: Date = new Date(),
): Promise<Price> {
  const [row] = await ex.db.insert(prices).values({ model, promptPer1k, completionPer1k, effectiveFrom }).returning();
  return toPrice(row!);
}

/** The version of `model`'s price in effect at `at` (latest effective_from <= at), or null. */
export async function currentPrice(ex: Executor, model: string, at: Date = new Date()): Promise<Price | null> {
  const [row] = await ex.db
    .select()
    .from(prices)
    .where(and(eq(prices.model, model), lte(prices.effectiveFrom, at)))
    .orderBy(desc(prices.effectiveFrom))
    .limit(1);
  return row ? toPrice(row) : null;
}

/** Every version, per model oldest first (one model, or all). */
export async function listPriceVersions(ex: Executor, model?: string): Promise<Price[]> {
  const rows = await ex.db
    .select()
    .from(prices)
    .where(model === undefined ? undefined : eq(prices.model, model))
    .orderBy(asc(prices.model), asc(prices.effectiveFrom));
  return rows.map(toPrice);
}
