import { sql, type SQL } from 'drizzle-orm';
import type { Price } from '../pricing';
import type { Admission, AdmitResult, BudgetState, Rejection, Settlement } from '../usage/types';
import { TOTAL_WINDOW } from '../budget/window';
import type { Executor } from './db';

// The ledger's statements. Each is one round trip; batches are set-based (one JSON array in,
// expanded with jsonb_to_recordset, which both drivers pass the same way, nulls included).
// Money leaves SQL as text and becomes bigint here: the drivers disagree on int8.

const TOTAL_START = TOTAL_WINDOW.windowStart.toISOString();
const TOTAL_END = TOTAL_WINDOW.windowEnd.toISOString();

const epochMs = (column: SQL) => sql`(extract(epoch FROM ${column}) * 1000)::float8`;

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

/**
 * Admission in one statement. The budget check is the conditional upsert on the window row:
 * Postgres locks that row, re-reads its latest version and applies the WHERE, so concurrent
 * admissions (any number of instances) serialize on it and `spent + reserved <= limit` holds at
 * every commit. The pending row is inserted only when the reservation was made (or no budget).
 */
export async function admitRequest(ex: Executor, a: Admission, options: AdmitOptions = {}): Promise<AdmitResult> {
  const synchronousCommit = options.durable ? 'on' : 'off';
  const startedAt = a.startedAt.toISOString();
  const reservedTokens = a.promptTokens + a.maxCompletionTokens;
  const rpm = a.rateLimits?.rpm ?? null;
  const tpm = a.rateLimits?.tpm ?? null;
  const [row] = await ex.rows<AdmitRow>(sql`
    WITH live_key AS (
      SELECT id FROM api_keys
      WHERE id = ${a.keyId} AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ${startedAt}::timestamptz)
    ),
    price AS (
      SELECT p.id, p.model, p.prompt_per_1k, p.completion_per_1k, p.effective_from,
        (div(${a.promptTokens}::numeric * p.prompt_per_1k, 1000) + div(${a.maxCompletionTokens}::numeric * p.completion_per_1k, 1000))::bigint AS reserved_cost
      FROM prices p
      WHERE p.model = ${a.routedModel} AND p.effective_from <= ${startedAt}::timestamptz
      ORDER BY p.effective_from DESC
      LIMIT 1
    ),
    -- Per-minute rate window, shared by every instance: the same conditional upsert as the budget.
    rate AS (
      INSERT INTO rate_windows AS r (key_id, minute_start, requests, tokens)
      SELECT live_key.id, date_trunc('minute', ${startedAt}::timestamptz), 1, ${reservedTokens}::bigint
      FROM live_key
      WHERE (${rpm}::int IS NOT NULL OR ${tpm}::bigint IS NOT NULL)
        AND (${tpm}::bigint IS NULL OR ${reservedTokens}::bigint <= ${tpm}::bigint)
      ON CONFLICT (key_id, minute_start) DO UPDATE
        SET requests = r.requests + 1, tokens = r.tokens + excluded.tokens
        WHERE (${rpm}::int IS NULL OR r.requests + 1 <= ${rpm}::int)
          AND (${tpm}::bigint IS NULL OR r.tokens + excluded.tokens <= ${tpm}::bigint)
      RETURNING r.requests
    ),
    rate_ok AS (
      SELECT (${rpm}::int IS NULL AND ${tpm}::bigint IS NULL) OR EXISTS (SELECT 1 FROM rate) AS ok
    ),
    -- The window is computed here, from the budget row itself, so a budget set or changed on any
    -- instance binds every instance's next admission (no cached period or zone to go stale).
    -- Local wall-clock arithmetic, then back to an instant: a DST day is 23 or 25 hours.
    budget AS (
      SELECT b.limit_cost, b.limit_tokens, b.soft_threshold_pct,
        CASE WHEN b.period = 'total' THEN ${TOTAL_START}::timestamptz
             ELSE date_trunc(b.period, ${startedAt}::timestamptz AT TIME ZONE b.timezone) AT TIME ZONE b.timezone END AS window_start,
        CASE WHEN b.period = 'total' THEN ${TOTAL_END}::timestamptz
             ELSE (date_trunc(b.period, ${startedAt}::timestamptz AT TIME ZONE b.timezone)
                   + CASE b.period WHEN 'day' THEN interval '1 day' WHEN 'week' THEN interval '7 days' ELSE interval '1 month' END)
                  AT TIME ZONE b.timezone END AS window_end
      FROM budgets b
      WHERE b.key_id = (SELECT id FROM live_key)
    ),
    reservation AS (
      INSERT INTO budget_windows AS w (key_id, window_start, window_end, spent_cost, reserved_cost, spent_tokens, reserved_tokens)
      SELECT ${a.keyId}, budget.window_start, budget.window_end, 0, price.reserved_cost, 0, ${reservedTokens}::bigint
      FROM budget, price
      WHERE (SELECT ok FROM rate_ok)
        AND (budget.limit_cost IS NULL OR price.reserved_cost <= budget.limit_cost)
        AND (budget.limit_tokens IS NULL OR ${reservedTokens}::bigint <= budget.limit_tokens)
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
      SELECT ${a.requestId}, live_key.id, ${a.endpoint}, ${a.requestedModel}, ${a.routedModel}, ${a.backend}, 'pending', ${a.stream}::boolean,
        ${a.promptTokens}::int, ${a.maxCompletionTokens}::int, price.reserved_cost, price.id,
        (SELECT window_start FROM budget), ${startedAt}::timestamptz
      FROM live_key, price
      WHERE (SELECT ok FROM rate_ok) AND (NOT EXISTS (SELECT 1 FROM budget) OR EXISTS (SELECT 1 FROM reservation))
      RETURNING request_id
    ),
    -- The window as this statement's snapshot saw it: reported when the reservation is refused.
    seen_window AS (
      SELECT spent_cost, reserved_cost, spent_tokens, reserved_tokens FROM budget_windows
      WHERE key_id = ${a.keyId} AND window_start = (SELECT window_start FROM budget)
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
    FROM (SELECT set_config('synchronous_commit', ${synchronousCommit}, true)) AS one
      LEFT JOIN price ON true
      LEFT JOIN budget ON true
      LEFT JOIN reservation r ON true
      LEFT JOIN seen_window s ON true`);
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

/**
 * What happens to the rows a statement just finalized (CTE `finalized`): each reservation is
 * released and replaced by the billed cost and tokens in its window, and the daily rollup grows.
 */
const finalizedEffects = sql`
    released AS (
      UPDATE budget_windows w SET
        spent_cost = w.spent_cost + d.billed_cost,
        reserved_cost = w.reserved_cost - d.reserved_cost,
        spent_tokens = w.spent_tokens + d.billed_tokens,
        reserved_tokens = w.reserved_tokens - d.reserved_tokens
      FROM (
        SELECT key_id, budget_window_start,
          sum(billed_cost)::bigint AS billed_cost, sum(reserved_cost)::bigint AS reserved_cost,
          sum(prompt_tokens + completion_tokens)::bigint AS billed_tokens, sum(reserved_tokens)::bigint AS reserved_tokens
        FROM finalized WHERE budget_window_start IS NOT NULL
        GROUP BY key_id, budget_window_start
      ) d
      WHERE w.key_id = d.key_id AND w.window_start = d.budget_window_start
      RETURNING 1
    ),
    rolled_up AS (
      INSERT INTO usage_daily AS u (key_id, model, day, requests, rejected_requests, prompt_tokens, completion_tokens, cost)
      SELECT key_id, routed_model, (started_at AT TIME ZONE 'UTC')::date,
        count(*), 0, sum(prompt_tokens), sum(completion_tokens), sum(billed_cost)
      FROM finalized
      GROUP BY key_id, routed_model, (started_at AT TIME ZONE 'UTC')::date
      ON CONFLICT (key_id, model, day) DO UPDATE SET
        requests = u.requests + excluded.requests,
        prompt_tokens = u.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = u.completion_tokens + excluded.completion_tokens,
        cost = u.cost + excluded.cost
      RETURNING 1
    )`;

const finalizedColumns = sql`e.request_id, e.key_id, e.routed_model, e.started_at, e.budget_window_start,
        e.reserved_cost, e.billed_cost, e.prompt_tokens, e.completion_tokens,
        coalesce(e.prompt_tokens_estimated, 0) + coalesce(e.max_completion_tokens, 0) AS reserved_tokens`;

/**
 * Finalizes pending rows from settlements. `status = 'pending'` guards each row: a request
 * settled twice, or settled after the sweeper, changes nothing the second time.
 * Returns how many rows this call finalized.
 */
export async function settleRequests(ex: Executor, settlements: readonly Settlement[]): Promise<number> {
  if (settlements.length === 0) return 0;
  const input = settlements.map((s) => ({
    request_id: s.requestId,
    status: s.status,
    prompt_tokens: s.promptTokens,
    completion_tokens: s.completionTokens,
    usage_source: s.usageSource,
    completion_tokens_estimated: s.completionTokensEstimated,
    billed_cost: s.billedCost.toString(),
    latency_ms: s.latencyMs,
    ttft_ms: s.ttftMs,
    error_code: s.errorCode,
    finished_at: s.finishedAt.toISOString(),
  }));
  const [row] = await ex.rows<{ finalized: number }>(sql`
    WITH input AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(input)}::jsonb) AS s(
        request_id text, status text, prompt_tokens int, completion_tokens int, usage_source text,
        completion_tokens_estimated int, billed_cost bigint, latency_ms int, ttft_ms int, error_code text,
        finished_at timestamptz)
    ),
    finalized AS (
      UPDATE usage_events e SET
        status = s.status, prompt_tokens = s.prompt_tokens, completion_tokens = s.completion_tokens,
        usage_source = s.usage_source, completion_tokens_estimated = s.completion_tokens_estimated,
        billed_cost = s.billed_cost, over_reservation = s.billed_cost > e.reserved_cost,
        latency_ms = s.latency_ms, ttft_ms = s.ttft_ms, error_code = s.error_code, finished_at = s.finished_at
      FROM input s
      WHERE e.request_id = s.request_id AND e.status = 'pending'
      RETURNING ${finalizedColumns}
    ),
    ${finalizedEffects}
    SELECT count(*)::int AS finalized FROM finalized`);
  return row?.finalized ?? 0;
}

/**
 * Writes final `rejected` rows (cost 0) for requests refused before admission; an id already
 * present is left alone. They count in usage_daily as requests and rejected_requests, with no
 * tokens or cost, under the routed model (else the requested one).
 */
export async function recordRejections(ex: Executor, rejections: readonly Rejection[]): Promise<number> {
  if (rejections.length === 0) return 0;
  const input = rejections.map((r) => ({
    request_id: r.requestId,
    key_id: r.keyId,
    endpoint: r.endpoint,
    requested_model: r.requestedModel,
    routed_model: r.routedModel,
    prompt_tokens: r.promptTokens,
    stream: r.stream,
    error_code: r.errorCode,
    started_at: r.startedAt.toISOString(),
    finished_at: r.finishedAt.toISOString(),
  }));
  const [row] = await ex.rows<{ recorded: number }>(sql`
    WITH input AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(input)}::jsonb) AS s(
        request_id text, key_id text, endpoint text, requested_model text, routed_model text,
        prompt_tokens int, stream boolean, error_code text, started_at timestamptz, finished_at timestamptz)
    ),
    recorded AS (
      INSERT INTO usage_events (request_id, key_id, endpoint, requested_model, routed_model, status, stream,
        prompt_tokens_estimated, usage_source, error_code, started_at, finished_at)
      SELECT request_id, key_id, endpoint, requested_model, routed_model, 'rejected', stream,
        prompt_tokens, 'none', error_code, started_at, finished_at
      FROM input
      ON CONFLICT (request_id) DO NOTHING
      RETURNING key_id, coalesce(routed_model, requested_model) AS model, started_at
    ),
    rolled_up AS (
      INSERT INTO usage_daily AS u (key_id, model, day, requests, rejected_requests, prompt_tokens, completion_tokens, cost)
      SELECT key_id, model, (started_at AT TIME ZONE 'UTC')::date, count(*), count(*), 0, 0, 0
      FROM recorded
      GROUP BY key_id, model, (started_at AT TIME ZONE 'UTC')::date
      ON CONFLICT (key_id, model, day) DO UPDATE SET
        requests = u.requests + excluded.requests,
        rejected_requests = u.rejected_requests + excluded.rejected_requests
      RETURNING 1
    )
    SELECT count(*)::int AS recorded FROM recorded`);
  return row?.recorded ?? 0;
}

/**
 * Finalizes up to `limit` pending rows started before `cutoff` as `incomplete`, billing the
 * prompt estimate at the row's price and no completion. Rows another sweeper holds are skipped.
 */
export async function sweepPendingRequests(ex: Executor, cutoff: Date, now: Date, limit: number): Promise<number> {
  const [row] = await ex.rows<{ finalized: number }>(sql`
    WITH stale AS (
      SELECT request_id FROM usage_events
      WHERE status = 'pending' AND started_at < ${cutoff.toISOString()}::timestamptz
      ORDER BY started_at
      LIMIT ${limit}::int
      FOR UPDATE SKIP LOCKED
    ),
    finalized AS (
      UPDATE usage_events e SET
        status = 'incomplete',
        prompt_tokens = coalesce(e.prompt_tokens_estimated, 0),
        completion_tokens = 0,
        usage_source = 'none',
        billed_cost = coalesce((
          SELECT div(coalesce(e.prompt_tokens_estimated, 0)::numeric * p.prompt_per_1k, 1000)::bigint
          FROM prices p WHERE p.id = e.price_id), 0),
        error_code = 'swept',
        finished_at = ${now.toISOString()}::timestamptz
      FROM stale
      WHERE e.request_id = stale.request_id AND e.status = 'pending'
      RETURNING ${finalizedColumns}
    ),
    ${finalizedEffects}
    SELECT count(*)::int AS finalized FROM finalized`);
  return row?.finalized ?? 0;
}
