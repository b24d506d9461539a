import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll } from 'vitest';
import type { Admission, Settlement } from '../../../src/ledger';
import { type Money, parseUsd } from '../../../src/pricing';
import { type BudgetSettings, createKey, type Store, seedPricesFromConfig, setBudget } from '../../../src/store';
import { createLedger, type StoreLedger } from '../../../src/usage';
import type { TestDatabase } from './databases';

/** gpt-4 at $0.03 / $0.06 per 1k: a prompt token costs PROMPT_TOKEN, a completion token COMPLETION_TOKEN. */
export const TEST_PRICES = {
  'gpt-4': { pricePer1k: { prompt: '0.03', completion: '0.06' } },
  'gpt-4-32k': { pricePer1k: { prompt: '0.06', completion: '0.12' } },
};

/** Picodollars per gpt-4 prompt / completion token. */
export const PROMPT_TOKEN = 30_000_000n;
export const COMPLETION_TOKEN = 60_000_000n;

export const usd = (text: string): Money => parseUsd(text);

export async function seedTestPrices(store: Store): Promise<void> {
  await seedPricesFromConfig(store, TEST_PRICES);
}

/** A live key, with a budget when given one. */
export async function createTestKey(store: Store, budget?: BudgetSettings): Promise<string> {
  const id = `key_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  await createKey(store, { id, name: id, prefix: id.slice(0, 8), hash: randomUUID(), scopes: ['proxy'] });
  if (budget) await setBudget(store, id, budget);
  return id;
}

export const DAY_WINDOW = { windowStart: new Date('2026-11-29T00:00:00Z'), windowEnd: new Date('2026-11-30T00:00:00Z') };
export const STARTED_AT = new Date('2026-11-29T10:00:00Z');

/** Every admission made here, by request id: a settlement needs its key and start (the row's partition). */
const admissions = new Map<string, Admission>();

export function admission(keyId: string, fields: Partial<Admission> = {}): Admission {
  const made: Admission = {
    requestId: `req_${randomUUID()}`,
    keyId,
    endpoint: 'chat.completions',
    requestedModel: 'gpt-4',
    routedModel: 'gpt-4',
    backend: 'gpu-a',
    promptTokens: 100,
    maxCompletionTokens: 50,
    stream: false,
    startedAt: STARTED_AT,
    ...fields,
  };
  admissions.set(made.requestId, made);
  return made;
}

/** The final word on an admission made with `admission()` (by its request id), with `fields` changed. */
export function settlement(requestId: string, fields: Partial<Settlement> = {}): Settlement {
  const made = admissions.get(requestId);
  return {
    requestId,
    keyId: made?.keyId ?? 'key_unknown',
    startedAt: made?.startedAt ?? STARTED_AT,
    status: 'ok',
    promptTokens: 100,
    completionTokens: 20,
    usageSource: 'upstream',
    completionTokensEstimated: 20,
    billedCost: 100n * PROMPT_TOKEN + 20n * COMPLETION_TOKEN,
    latencyMs: 12,
    ttftMs: null,
    errorCode: null,
    finishedAt: new Date(STARTED_AT.getTime() + 1000),
    ...fields,
  };
}

export interface WindowTotals {
  spentCost: bigint;
  reservedCost: bigint;
  spentTokens: number;
  reservedTokens: number;
}

export async function windowTotals(store: Store, keyId: string, windowStart = DAY_WINDOW.windowStart): Promise<WindowTotals> {
  const [row] = await store.rows<{ spent_cost: string; reserved_cost: string; spent_tokens: string; reserved_tokens: string }>(sql`
    SELECT spent_cost::text, reserved_cost::text, spent_tokens::text, reserved_tokens::text
    FROM budget_windows WHERE key_id = ${keyId} AND window_start = ${windowStart.toISOString()}::timestamptz`);
  if (!row) return { spentCost: 0n, reservedCost: 0n, spentTokens: 0, reservedTokens: 0 };
  return {
    spentCost: BigInt(row.spent_cost),
    reservedCost: BigInt(row.reserved_cost),
    spentTokens: Number(row.spent_tokens),
    reservedTokens: Number(row.reserved_tokens),
  };
}

export async function statusCounts(store: Store, keyId: string): Promise<Record<string, number>> {
  const rows = await store.rows<{ status: string; n: number }>(sql`
    SELECT status, count(*)::int AS n FROM usage_events WHERE key_id = ${keyId} GROUP BY status`);
  return Object.fromEntries(rows.map((row) => [row.status, row.n]));
}

/** Sums over usage_events and usage_daily for one key, to compare to the unit. */
export async function ledgerSums(store: Store, keyId: string) {
  const [events] = await store.rows<{ requests: number; cost: string; prompt: string; completion: string }>(sql`
    SELECT count(*)::int AS requests, coalesce(sum(billed_cost), 0)::text AS cost,
      coalesce(sum(prompt_tokens), 0)::text AS prompt, coalesce(sum(completion_tokens), 0)::text AS completion
    FROM usage_events WHERE key_id = ${keyId} AND status <> 'pending'`);
  const [daily] = await store.rows<{ requests: string; cost: string; prompt: string; completion: string }>(sql`
    SELECT coalesce(sum(requests), 0)::text AS requests, coalesce(sum(cost), 0)::text AS cost,
      coalesce(sum(prompt_tokens), 0)::text AS prompt, coalesce(sum(completion_tokens), 0)::text AS completion
    FROM usage_daily WHERE key_id = ${keyId}`);
  return {
    events: {
      requests: events!.requests,
      cost: BigInt(events!.cost),
      promptTokens: Number(events!.prompt),
      completionTokens: Number(events!.completion),
    },
    daily: {
      requests: Number(daily!.requests),
      cost: BigInt(daily!.cost),
      promptTokens: Number(daily!.prompt),
      completionTokens: Number(daily!.completion),
    },
  };
}

/**
 * Per describe block: a fresh migrated store with test prices and a ledger on it, flushed and
 * closed afterwards. `onOpen` receives them once they are ready.
 */
export function useLedgerStore(database: TestDatabase, onOpen: (opened: { store: Store; ledger: StoreLedger }) => void): void {
  let opened: { store: Store; ledger: StoreLedger } | undefined;
  beforeAll(async () => {
    const store = await database.open();
    await seedTestPrices(store);
    opened = { store, ledger: createLedger(store, { log: () => {} }) };
    onOpen(opened);
  });
  afterAll(async () => {
    await opened?.ledger.flush(5_000);
    await opened?.store.close();
  });
}
