import { sql, type SQL } from 'drizzle-orm';
import { TOTAL_WINDOW } from '../budget/window';
import type { Price } from '../pricing';
import type { Admission, AdmitResult, BudgetState } from '../usage/types';
import { compile, type Executor } from './db';

// The admission statement: one round trip that checks the key, prices the worst case, takes the
// rate and budget reservations and writes the pending row. Money leaves SQL as text and becomes
// bigint here: the drivers disagree on int8.

const TOTAL_START = TOTAL_WINDOW.windowStart.toISOString();
const TOTAL_END = TOTAL_WINDOW.windowEnd.toISOString();

export const epochMs = (column: SQL) => sql`(extract(epoch FROM ${column}) * 1000)::float8`;

/**
 * `window_start, window_end` of the window of budget row `b` that holds the instant `at`. Local
 * wall-clock arithmetic, then back to an instant: a DST day is 23 or 25 hours.
 */
export const windowBounds = (at: SQL) => sql`
        CASE WHEN b.period = 'total' THEN ${TOTAL_START}::timestamptz
             ELSE date_trunc(b.period, ${at} AT TIME ZONE b.timezone) AT TIME ZONE b.timezone END AS window_start,
        CASE WHEN b.period = 'total' THEN ${TOTAL_END}::timestamptz
             ELSE (date_trunc(b.period, ${at} AT TIME ZONE b.timezone)
                   + CASE b.period WHEN 'day' THEN interval '1 day' WHEN 'week' THEN interval '7 days' ELSE interval '1 month' END)
                  AT TIME ZONE b.timezone END AS window_end`;

export class PriceMissingError extends Error {
  override name = 'PriceMissingError';
}

interface AdmitRow extends Record<string, unknown> {
  key_live: boolean;
  price_id: number | null;
  price_model: string | null;
  prompt_per_1k: string | null;
  completion_per_1k: string | null;
  effective_from_ms: number | null;
  reserved_cost: string | null;
  budgeted: boolean;
  rate_ok: boolean;
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

export interface AdmitOptions {
  /**
   * Wait for the admission's WAL flush before answering (synchronous_commit on). Off by default:
   * the flush costs more than the statement (2.5-5 ms on this machine's disk), and a commit is
   * visible and crash-consistent at once. Off risks only a Postgres server crash in the
   * ~0.6 s after an admission: that admission vanishes whole (reservation and pending row), so
   * its settle finds nothing and the request goes unbilled; never billed twice, never over the
   * limit. Settle batches always commit durably, which also flushes every admission before them.
   */
  durable?: boolean;
}

type AdmitValues = {
  keyId: string;
  startedAt: string;
  promptTokens: number;
  maxCompletionTokens: number;
  reservedTokens: number;
  routedModel: string;
  rpm: number | null;
  tpm: number | null;
  requestId: string;
  endpoint: string;
  requestedModel: string;
  backend: string;
  stream: boolean;
  synchronousCommit: 'on' | 'off';
};

const p = (name: keyof AdmitValues) => sql.placeholder(name);

// Built once (compile): the statement is the same for every request, only its values change.
const ADMIT = compile<AdmitValues>(sql`
    WITH live_key AS (
      SELECT id FROM api_keys
      WHERE id = ${p('keyId')} AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ${p('startedAt')}::timestamptz)
    ),
    price AS (
      SELECT p.id, p.model, p.prompt_per_1k, p.completion_per_1k, p.effective_from,
        (div(${p('promptTokens')}::numeric * p.prompt_per_1k, 1000) + div(${p('maxCompletionTokens')}::numeric * p.completion_per_1k, 1000))::bigint AS reserved_cost
      FROM prices p
      WHERE p.model = ${p('routedModel')} AND p.effective_from <= ${p('startedAt')}::timestamptz
      ORDER BY p.effective_from DESC
      LIMIT 1
    ),
    -- Per-minute rate window, shared by every instance: the same conditional upsert as the budget.
    rate AS (
      INSERT INTO rate_windows AS r (key_id, minute_start, requests, tokens)
      SELECT live_key.id, date_trunc('minute', ${p('startedAt')}::timestamptz), 1, ${p('reservedTokens')}::bigint
      FROM live_key
      WHERE (${p('rpm')}::int IS NOT NULL OR ${p('tpm')}::bigint IS NOT NULL)
        AND (${p('tpm')}::bigint IS NULL OR ${p('reservedTokens')}::bigint <= ${p('tpm')}::bigint)
      ON CONFLICT (key_id, minute_start) DO UPDATE
        SET requests = r.requests + 1, tokens = r.tokens + excluded.tokens
        WHERE (${p('rpm')}::int IS NULL OR r.requests + 1 <= ${p('rpm')}::int)
          AND (${p('tpm')}::bigint IS NULL OR r.tokens + excluded.tokens <= ${p('tpm')}::bigint)
      RETURNING r.requests
    ),
    rate_ok AS (
      SELECT (${p('rpm')}::int IS NULL AND ${p('tpm')}::bigint IS NULL) OR EXISTS (SELECT 1 FROM rate) AS ok
    ),
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
    event AS (
      INSERT INTO usage_events (request_id, key_id, endpoint, requested_model, routed_model, backend, status, stream,
        prompt_tokens_estimated, max_completion_tokens, reserved_cost, price_id, budget_window_start, started_at)
      SELECT ${p('requestId')}, live_key.id, ${p('endpoint')}, ${p('requestedModel')}, ${p('routedModel')}, ${p('backend')}, 'pending', ${p('stream')}::boolean,
        ${p('promptTokens')}::int, ${p('maxCompletionTokens')}::int, price.reserved_cost, price.id,
        (SELECT window_start FROM budget), ${p('startedAt')}::timestamptz
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
      EXISTS (SELECT 1 FROM live_key) AS key_live,
      price.id AS price_id, price.model AS price_model,
      price.prompt_per_1k::text AS prompt_per_1k, price.completion_per_1k::text AS completion_per_1k,
      ${epochMs(sql`price.effective_from`)} AS effective_from_ms,
      price.reserved_cost::text AS reserved_cost,
      EXISTS (SELECT 1 FROM budget) AS budgeted,
      (SELECT ok FROM rate_ok) AS rate_ok,
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
    promptTokens: a.promptTokens,
    maxCompletionTokens: a.maxCompletionTokens,
    reservedTokens: a.promptTokens + a.maxCompletionTokens,
    routedModel: a.routedModel,
    rpm: a.rateLimits?.rpm ?? null,
    tpm: a.rateLimits?.tpm ?? null,
    requestId: a.requestId,
    endpoint: a.endpoint,
    requestedModel: a.requestedModel,
    backend: a.backend,
    stream: a.stream,
    synchronousCommit: options.durable ? 'on' : 'off',
  };
  const [row] = await ex.query<AdmitRow>(ADMIT.text, ADMIT.params(values));
  if (!row || !row.key_live) return { admitted: false, reason: 'key_revoked' };
  if (row.price_id === null) {
    throw new PriceMissingError(`no price for model "${a.routedModel}" effective at ${startedAt}; seed prices from config first`);
  }
  const price: Price = {
    id: row.price_id,
    model: row.price_model!,
    promptPer1k: BigInt(row.prompt_per_1k!),
    completionPer1k: BigInt(row.completion_per_1k!),
    effectiveFrom: new Date(row.effective_from_ms!),
  };
  const reservedCost = BigInt(row.reserved_cost!);
  if (!row.rate_ok) return { admitted: false, reason: 'rate_limited', retryAfterSeconds: 60 - a.startedAt.getUTCSeconds() };
  const budget = row.budgeted ? budgetStateOf(row) : null;
  if (row.admitted) return { admitted: true, price, reservedCost, budget };
  if (!budget) throw new Error(`admission of ${a.requestId} wrote nothing although the key has no budget`);
  return { admitted: false, reason: 'insufficient_quota', price, reservedCost, budget };
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
