import { sql } from 'drizzle-orm';
import type { Admission, AdmitResult, BudgetState, RateResult, RowKey } from '../ledger/types';
import type { Price } from '../pricing';
import { compile, type Executor } from './db';
import { epochMs, windowBounds } from './windows';

// The admission statement: one round trip that checks the key (live, proxy scope, model), prices
// the worst case, takes the rate and budget reservations and writes the pending row. Everything
// it checks is read from the database in the statement itself, so a change made on any instance
// (revocation, scopes, models, rpm/tpm, the budget) binds the next admission everywhere. Money
// leaves SQL as text and becomes bigint here: the drivers disagree on int8.

export class PriceMissingError extends Error {
  override name = 'PriceMissingError';

  constructor(model: string, at: Date) {
    super(`no price for model "${model}" effective at ${at.toISOString()}; seed prices from config first`);
  }
}

/** The UTC month of an instant, as the `started_month` partition key. */
export function monthOf(at: Date): string {
  return `${at.toISOString().slice(0, 7)}-01`;
}

interface AdmitRow extends Record<string, unknown> {
  key_live: boolean;
  key_permitted: boolean;
  rpm: number | null;
  tpm: string | null;
  price_id: number | null;
  price_model: string | null;
  prompt_per_1k: string | null;
  completion_per_1k: string | null;
  effective_from_ms: number | null;
  reserved_cost: string | null;
  budgeted: boolean;
  rate_ok: boolean;
  requests_exhausted: boolean;
  admitted: boolean;
  limit_cost: string | null;
  limit_tokens: string | null;
  soft_threshold_pct: number | null;
  window_start_ms: number | null;
  spent_cost: string;
  window_reserved_cost: string;
  spent_tokens: string;
  window_reserved_tokens: string;
}

type AdmitValues = {
  keyId: string;
  startedAt: string;
  startedMonth: string;
  promptTokens: number;
  maxCompletionTokens: number;
  reservedTokens: number;
  routedModel: string;
  requestId: string;
  endpoint: string;
  requestedModel: string;
  backend: string;
  stream: boolean;
  tags: string;
  instanceId: string | null;
  synchronousCommit: 'on' | 'off';
};

const p = (name: keyof AdmitValues) => sql.placeholder(name);

/** The key as admission sees it: live, and whether it may proxy this model now; its rate limits. */
const keyCtes = (keyId: ReturnType<typeof p>, startedAt: ReturnType<typeof p>, requestedModel: ReturnType<typeof p> | null) => sql`
    the_key AS (
      SELECT k.id, k.team_id, (k.options->>'rpm')::int AS rpm, (k.options->>'tpm')::bigint AS tpm,
        'proxy' = ANY(k.scopes) AND (k.allowed_models IS NULL OR ${requestedModel ?? sql`NULL`}::text IS NULL OR ${requestedModel ?? sql`NULL`}::text = ANY(k.allowed_models)) AS permitted
      FROM api_keys k
      WHERE k.id = ${keyId} AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > ${startedAt}::timestamptz)
    ),
    live_key AS (SELECT * FROM the_key WHERE permitted)`;

/** The per-minute rate window, shared by every instance: the same conditional upsert as the budget. */
const rateCtes = (startedAt: ReturnType<typeof p>, tokens: SqlValue) => sql`
    rate AS (
      INSERT INTO rate_windows AS r (key_id, minute_start, requests, tokens)
      SELECT live_key.id, date_trunc('minute', ${startedAt}::timestamptz), 1, ${tokens}::bigint
      FROM live_key
      WHERE (live_key.rpm IS NOT NULL OR live_key.tpm IS NOT NULL)
        AND (live_key.tpm IS NULL OR ${tokens}::bigint <= live_key.tpm)
      ON CONFLICT (key_id, minute_start) DO UPDATE
        SET requests = r.requests + 1, tokens = r.tokens + excluded.tokens
        WHERE ((SELECT rpm FROM live_key) IS NULL OR r.requests + 1 <= (SELECT rpm FROM live_key))
          AND ((SELECT tpm FROM live_key) IS NULL OR r.tokens + excluded.tokens <= (SELECT tpm FROM live_key))
      RETURNING r.requests
    ),
    rate_ok AS (
      SELECT NOT EXISTS (SELECT 1 FROM live_key WHERE rpm IS NOT NULL OR tpm IS NOT NULL) OR EXISTS (SELECT 1 FROM rate) AS ok
    )`;
type SqlValue = ReturnType<typeof p> | ReturnType<typeof sql>;

// Built once (compile): the statement is the same for every request, only its values change.
export const ADMIT = compile<AdmitValues>(sql`
    WITH ${keyCtes(p('keyId'), p('startedAt'), p('requestedModel'))},
    price AS (
      SELECT p.id, p.model, p.prompt_per_1k, p.completion_per_1k, p.effective_from,
        (div(${p('promptTokens')}::numeric * p.prompt_per_1k, 1000) + div(${p('maxCompletionTokens')}::numeric * p.completion_per_1k, 1000))::bigint AS reserved_cost
      FROM prices p
      WHERE p.model = ${p('routedModel')} AND p.effective_from <= ${p('startedAt')}::timestamptz
      ORDER BY p.effective_from DESC
      LIMIT 1
    ),
    ${rateCtes(p('startedAt'), p('reservedTokens'))},
    -- The window is computed here, from the budget row itself, so a budget set or changed on any
    -- instance binds every instance's next admission (no cached period or zone to go stale).
    budget AS (
      SELECT b.limit_cost, b.limit_tokens, b.soft_threshold_pct, ${windowBounds(sql`${p('startedAt')}::timestamptz`)}
      FROM budgets b
      WHERE b.key_id = (SELECT id FROM live_key)
    ),
    reservation AS (
      INSERT INTO budget_windows AS w (key_id, window_start, window_end, spent_cost, reserved_cost, spent_tokens, reserved_tokens)
      SELECT ${p('keyId')}, budget.window_start, budget.window_end, 0, price.reserved_cost, 0, ${p('reservedTokens')}::bigint
      FROM budget, price
      WHERE (SELECT ok FROM rate_ok)
        AND (budget.limit_cost IS NULL OR price.reserved_cost <= budget.limit_cost)
        AND (budget.limit_tokens IS NULL OR ${p('reservedTokens')}::bigint <= budget.limit_tokens)
      ON CONFLICT (key_id, window_start) DO UPDATE
        SET reserved_cost = w.reserved_cost + excluded.reserved_cost,
            reserved_tokens = w.reserved_tokens + excluded.reserved_tokens
        WHERE ((SELECT limit_cost FROM budget) IS NULL
                OR w.spent_cost + w.reserved_cost + excluded.reserved_cost <= (SELECT limit_cost FROM budget))
          AND ((SELECT limit_tokens FROM budget) IS NULL
                OR w.spent_tokens + w.reserved_tokens + excluded.reserved_tokens <= (SELECT limit_tokens FROM budget))
      RETURNING w.spent_cost, w.reserved_cost, w.spent_tokens, w.reserved_tokens
    ),
    -- A request id already used by this key in this month fails the whole statement (unique
    -- violation): nothing is reserved, and the caller answers 409.
    event AS (
      INSERT INTO usage_events (request_id, key_id, team_id, tags, instance_id, endpoint, requested_model, routed_model, backend, status, stream,
        prompt_tokens_estimated, max_completion_tokens, reserved_cost, price_id, budget_window_start, started_at, started_month)
      SELECT ${p('requestId')}, live_key.id, live_key.team_id, ${p('tags')}::jsonb, ${p('instanceId')}, ${p('endpoint')}, ${p('requestedModel')},
        ${p('routedModel')}, ${p('backend')}, 'pending', ${p('stream')}::boolean,
        ${p('promptTokens')}::bigint, ${p('maxCompletionTokens')}::bigint, price.reserved_cost, price.id,
        (SELECT window_start FROM budget), ${p('startedAt')}::timestamptz, ${p('startedMonth')}::date
      FROM live_key, price
      WHERE (SELECT ok FROM rate_ok) AND (NOT EXISTS (SELECT 1 FROM budget) OR EXISTS (SELECT 1 FROM reservation))
      RETURNING request_id
    ),
    -- The window as this statement's snapshot saw it: reported when the reservation is refused.
    seen_window AS (
      SELECT spent_cost, reserved_cost, spent_tokens, reserved_tokens FROM budget_windows
      WHERE key_id = ${p('keyId')} AND window_start = (SELECT window_start FROM budget)
    )
    SELECT
      EXISTS (SELECT 1 FROM the_key) AS key_live,
      EXISTS (SELECT 1 FROM live_key) AS key_permitted,
      (SELECT rpm FROM the_key) AS rpm, (SELECT tpm FROM the_key)::text AS tpm,
      price.id AS price_id, price.model AS price_model,
      price.prompt_per_1k::text AS prompt_per_1k, price.completion_per_1k::text AS completion_per_1k,
      ${epochMs(sql`price.effective_from`)} AS effective_from_ms,
      price.reserved_cost::text AS reserved_cost,
      EXISTS (SELECT 1 FROM budget) AS budgeted,
      (SELECT ok FROM rate_ok) AS rate_ok,
      -- Refused with the minute's requests used up (not only its tokens): nothing the key sends can
      -- pass before the minute ends. As this statement's snapshot saw it; evaluated only when refused.
      (NOT (SELECT ok FROM rate_ok) AND EXISTS (
        SELECT 1 FROM rate_windows rw JOIN the_key k ON k.id = rw.key_id
        WHERE rw.minute_start = date_trunc('minute', ${p('startedAt')}::timestamptz) AND k.rpm IS NOT NULL AND rw.requests >= k.rpm
      )) AS requests_exhausted,
      EXISTS (SELECT 1 FROM event) AS admitted,
      budget.limit_cost::text AS limit_cost, budget.limit_tokens::text AS limit_tokens,
      budget.soft_threshold_pct, ${epochMs(sql`budget.window_start`)} AS window_start_ms,
      coalesce(r.spent_cost, s.spent_cost, 0)::text AS spent_cost,
      coalesce(r.reserved_cost, s.reserved_cost, 0)::text AS window_reserved_cost,
      coalesce(r.spent_tokens, s.spent_tokens, 0)::text AS spent_tokens,
      coalesce(r.reserved_tokens, s.reserved_tokens, 0)::text AS window_reserved_tokens
    -- set_config(…, true) lasts for this statement's own transaction: see AdmitOptions.durable.
    FROM (SELECT set_config('synchronous_commit', ${p('synchronousCommit')}, true)) AS one
      LEFT JOIN price ON true
      LEFT JOIN budget ON true
      LEFT JOIN reservation r ON true
      LEFT JOIN seen_window s ON true`);

export interface AdmitOptions {
  /**
   * Wait for the admission's WAL flush before answering (synchronous_commit on). Off by default on
   * a Postgres server: the flush costs more than the statement, and a commit is visible and
   * crash-consistent at once. Off risks only a Postgres server crash in the ~0.6 s after an
   * admission: that admission vanishes whole (reservation and pending row); its settle then
   * finds no pending row and writes the whole row instead, billing it without a reservation.
   * Never billed twice. Settle batches always commit durably, which also flushes every admission
   * before them.
   */
  durable?: boolean;
}

/**
 * Admission in one statement. The budget check is the conditional upsert on the window row:
 * Postgres locks that row, re-reads its latest version and applies the WHERE, so concurrent
 * admissions (any number of instances) serialize on it and `spent + reserved <= limit` holds at
 * every commit. The pending row is inserted only when the reservation was made (or no budget).
 */
export async function admitRequest(ex: Executor, a: Admission, options: AdmitOptions = {}): Promise<AdmitResult> {
  const startedAt = a.startedAt.toISOString();
  const values: AdmitValues = {
    keyId: a.keyId,
    startedAt,
    startedMonth: monthOf(a.startedAt),
    promptTokens: a.promptTokens,
    maxCompletionTokens: a.maxCompletionTokens,
    reservedTokens: a.promptTokens + a.maxCompletionTokens,
    routedModel: a.routedModel,
    requestId: a.requestId,
    endpoint: a.endpoint,
    requestedModel: a.requestedModel,
    backend: a.backend,
    stream: a.stream,
    tags: JSON.stringify(a.tags ?? {}),
    instanceId: a.instanceId ?? null,
    synchronousCommit: options.durable ? 'on' : 'off',
  };
  const [row] = await ex.query<AdmitRow>(ADMIT.text, ADMIT.params(values));
  if (!row?.key_live) return { admitted: false, reason: 'key_revoked' };
  if (!row.key_permitted) return { admitted: false, reason: 'not_permitted' };
  if (row.price_id === null) {
    throw new PriceMissingError(a.routedModel, a.startedAt);
  }
  const price: Price = {
    id: row.price_id,
    model: row.price_model!,
    promptPer1k: BigInt(row.prompt_per_1k!),
    completionPer1k: BigInt(row.completion_per_1k!),
    effectiveFrom: new Date(row.effective_from_ms!),
  };
  const reservedCost = BigInt(row.reserved_cost!);
  if (!row.rate_ok) {
    return {
      ...rateLimited(a.startedAt, row.rpm, row.tpm === null ? null : Number(row.tpm)),
      requestsExhausted: row.requests_exhausted === true,
    };
  }
  const budget = row.budgeted ? budgetStateOf(row) : null;
  if (row.admitted) return { admitted: true, price, reservedCost, budget };
  if (!budget) throw new Error(`admission of ${a.requestId} wrote nothing although the key has no budget`);
  return { admitted: false, reason: 'insufficient_quota', price, reservedCost, budget };
}

function rateLimited(at: Date, rpm: number | null, tpm: number | null) {
  return { admitted: false as const, reason: 'rate_limited' as const, retryAfterSeconds: 60 - at.getUTCSeconds(), rpm, tpm };
}

type RateValues = { keyId: string; startedAt: string };
const r = (name: keyof RateValues) => sql.placeholder(name);

// A request that reserves nothing (an estimate, a refusal for context length) still counts one
// request against the key's rpm (no tokens), so neither is free to repeat without end.
const METER_RATE = compile<RateValues>(sql`
    WITH ${keyCtes(r('keyId'), r('startedAt'), null)},
    ${rateCtes(r('startedAt'), sql`0`)}
    SELECT EXISTS (SELECT 1 FROM the_key) AS key_live, (SELECT ok FROM rate_ok) AS rate_ok,
      (SELECT rpm FROM the_key) AS rpm, (SELECT tpm FROM the_key)::text AS tpm`);

export async function meterRate(ex: Executor, key: RowKey): Promise<RateResult> {
  const [row] = await ex.query<{ key_live: boolean; rate_ok: boolean; rpm: number | null; tpm: string | null }>(
    METER_RATE.text,
    METER_RATE.params({ keyId: key.keyId, startedAt: key.startedAt.toISOString() }),
  );
  if (!row?.key_live || row.rate_ok) return { ok: true };
  const { retryAfterSeconds, rpm, tpm } = rateLimited(key.startedAt, row.rpm, row.tpm === null ? null : Number(row.tpm));
  return { ok: false, retryAfterSeconds, rpm, tpm };
}

function budgetStateOf(row: AdmitRow): BudgetState {
  const limitCost = row.limit_cost === null ? null : BigInt(row.limit_cost);
  const limitTokens = row.limit_tokens === null ? null : Number(row.limit_tokens);
  const spentCost = BigInt(row.spent_cost);
  const reservedCost = BigInt(row.window_reserved_cost);
  const spentTokens = Number(row.spent_tokens);
  const reservedTokens = Number(row.window_reserved_tokens);
  return {
    windowStart: new Date(row.window_start_ms!),
    softThresholdPct: row.soft_threshold_pct,
    limitCost,
    limitTokens,
    spentCost,
    reservedCost,
    spentTokens,
    reservedTokens,
    remainingCost: limitCost === null ? null : limitCost - spentCost - reservedCost,
    remainingTokens: limitTokens === null ? null : limitTokens - spentTokens - reservedTokens,
  };
}
