import { eq, sql } from 'drizzle-orm';
import type { BudgetPeriod } from '../budget/periods';
import type { Money } from '../pricing';
import type { Executor } from './db';
import { budgets, type budgetWindows } from './schema';
import { epochMs, windowBounds } from './windows';

export type BudgetRecord = typeof budgets.$inferSelect;
export type BudgetWindowRecord = typeof budgetWindows.$inferSelect;

export interface BudgetSettings {
  /** Picodollars per window; null: no money limit. */
  limitCost: Money | null;
  /** Tokens (prompt + completion) per window; null: no token limit. */
  limitTokens: number | null;
  period: BudgetPeriod;
  /** IANA zone for day/week/month boundaries (default UTC). */
  timezone?: string;
  softThresholdPct?: number | null;
}

/**
 * Sets or replaces a key's budget. A new limit applies to the next admission; what the current
 * window already spent or reserved stays.
 */
export async function setBudget(ex: Executor, keyId: string, settings: BudgetSettings): Promise<BudgetRecord> {
  const values = {
    limitCost: settings.limitCost,
    limitTokens: settings.limitTokens,
    period: settings.period,
    timezone: settings.timezone ?? 'UTC',
    softThresholdPct: settings.softThresholdPct ?? null,
    updatedAt: sql`now()`,
  };
  const [row] = await ex.db
    .insert(budgets)
    .values({ keyId, ...values })
    .onConflictDoUpdate({ target: budgets.keyId, set: values })
    .returning();
  return row!;
}

export async function getBudget(ex: Executor, keyId: string): Promise<BudgetRecord | null> {
  const [row] = await ex.db.select().from(budgets).where(eq(budgets.keyId, keyId)).limit(1);
  return row ?? null;
}

/** Removes a key's budget: it is unlimited from the next admission on. True when there was one. */
export async function clearBudget(ex: Executor, keyId: string): Promise<boolean> {
  const rows = await ex.db.delete(budgets).where(eq(budgets.keyId, keyId)).returning({ keyId: budgets.keyId });
  return rows.length > 0;
}

export interface BudgetStatus {
  budget: BudgetRecord;
  windowStart: Date;
  windowEnd: Date;
  spentCost: Money;
  reservedCost: Money;
  spentTokens: number;
  reservedTokens: number;
}

/**
 * A key's budget and the state of its window holding `at`, the window computed by the same SQL
 * rule as admission (windows.ts); null when the key has no budget.
 */
export async function budgetStatus(ex: Executor, keyId: string, at: Date): Promise<BudgetStatus | null> {
  const budget = await getBudget(ex, keyId);
  if (!budget) return null;
  const [row] = await ex.rows<{
    start_ms: number;
    end_ms: number;
    spent_cost: string;
    reserved_cost: string;
    spent_tokens: string;
    reserved_tokens: string;
  }>(sql`
    SELECT ${epochMs(sql.raw('b.window_start'))} AS start_ms, ${epochMs(sql.raw('b.window_end'))} AS end_ms,
      coalesce(w.spent_cost, 0)::text AS spent_cost, coalesce(w.reserved_cost, 0)::text AS reserved_cost,
      coalesce(w.spent_tokens, 0)::text AS spent_tokens, coalesce(w.reserved_tokens, 0)::text AS reserved_tokens
    FROM (SELECT ${windowBounds(sql`${at.toISOString()}::timestamptz`)} FROM budgets b WHERE b.key_id = ${keyId}) b
    LEFT JOIN budget_windows w ON w.key_id = ${keyId} AND w.window_start = b.window_start`);
  if (!row) return null;
  return {
    budget,
    windowStart: new Date(Number(row.start_ms)),
    windowEnd: new Date(Number(row.end_ms)),
    spentCost: BigInt(row.spent_cost),
    reservedCost: BigInt(row.reserved_cost),
    spentTokens: Number(row.spent_tokens),
    reservedTokens: Number(row.reserved_tokens),
  };
}
