import { sql } from 'drizzle-orm';
import { expect } from 'vitest';
import { parseCsv } from '../../../src/reports';
import type { Store } from '../../../src/store';

/** A clock the gateway reads for each request's start (deps.now), moved by the test. */
export function movableClock(start: Date) {
  let current = start;
  return {
    now: () => current,
    set(at: Date | string) {
      current = typeof at === 'string' ? new Date(at) : at;
    },
  };
}

export interface Sums {
  requests: bigint;
  promptTokens: bigint;
  completionTokens: bigint;
  cost: bigint;
}

/** A decimal USD string of ours (sign included) as picodollars, without floats. */
export function picodollars(text: string): bigint {
  const negative = text.startsWith('-');
  const [whole, frac = ''] = (negative ? text.slice(1) : text).split('.');
  const value = BigInt(whole!) * 1_000_000_000_000n + BigInt(frac.padEnd(12, '0'));
  return negative ? -value : value;
}

export interface LedgerFilter {
  teamIds?: (string | null)[];
  keyIds?: string[];
}

/** The oracle: sums straight over the ledger's final rows in [from, to). */
export async function ledgerSums(store: Store, from: Date, to: Date, filter: LedgerFilter = {}): Promise<Sums> {
  const teams = filter.teamIds ? JSON.stringify(filter.teamIds.map((t) => t ?? '')) : null;
  const keys = filter.keyIds ? JSON.stringify(filter.keyIds) : null;
  const [row] = await store.rows<{ requests: string; prompt: string; completion: string; cost: string }>(sql`
    SELECT count(*)::text AS requests, coalesce(sum(prompt_tokens), 0)::text AS prompt,
      coalesce(sum(completion_tokens), 0)::text AS completion, coalesce(sum(billed_cost), 0)::text AS cost
    FROM usage_events
    WHERE status <> 'pending' AND started_at >= ${from.toISOString()}::timestamptz AND started_at < ${to.toISOString()}::timestamptz
      AND (${teams}::jsonb IS NULL OR coalesce(team_id, '') IN (SELECT jsonb_array_elements_text(${teams}::jsonb)))
      AND (${keys}::jsonb IS NULL OR key_id IN (SELECT jsonb_array_elements_text(${keys}::jsonb)))`);
  return {
    requests: BigInt(row!.requests),
    promptTokens: BigInt(row!.prompt),
    completionTokens: BigInt(row!.completion),
    cost: BigInt(row!.cost),
  };
}

interface JsonMeasures {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cost: string;
}

export const fromJson = (m: JsonMeasures): Sums => ({
  requests: BigInt(m.requests),
  promptTokens: BigInt(m.promptTokens),
  completionTokens: BigInt(m.completionTokens),
  cost: picodollars(m.cost),
});

export function sumRows(rows: JsonMeasures[]): Sums {
  return addSums(rows.map(fromJson));
}

export function addSums(list: Sums[]): Sums {
  return list.reduce(
    (a, b) => ({
      requests: a.requests + b.requests,
      promptTokens: a.promptTokens + b.promptTokens,
      completionTokens: a.completionTokens + b.completionTokens,
      cost: a.cost + b.cost,
    }),
    { requests: 0n, promptTokens: 0n, completionTokens: 0n, cost: 0n },
  );
}

/** A CSV report's rows as objects keyed by its header, and the sums of its measure columns. */
export function readCsv(text: string): { header: string[]; rows: Record<string, string>[]; sums: Sums } {
  expect(text.endsWith('\r\n')).toBe(true);
  const [header, ...records] = parseCsv(text);
  const rows = records.map((record) => Object.fromEntries(header!.map((name, i) => [name, record[i]!])));
  const sums = rows.reduce<Sums>(
    (a, row) => ({
      requests: a.requests + BigInt(row.requests ?? 0),
      promptTokens: a.promptTokens + BigInt(row.promptTokens ?? 0),
      completionTokens: a.completionTokens + BigInt(row.completionTokens ?? 0),
      cost: a.cost + picodollars(row.cost ?? '0'),
    }),
    { requests: 0n, promptTokens: 0n, completionTokens: 0n, cost: 0n },
  );
  return { header: header!, rows, sums };
}

/** Calls the gateway with a bearer secret (the operator token unless told otherwise). */
export function caller(url: string, token: string) {
  return (path: string, init: { method?: string; body?: unknown; accept?: string } = {}) =>
    fetch(`${url}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        authorization: `Bearer ${token}`,
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(init.accept ? { accept: init.accept } : {}),
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
}

/** The local calendar date of an instant in a zone, by the JavaScript runtime's zone data (not the database's). */
export function localDate(at: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}
