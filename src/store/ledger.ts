import { sql, type SQL } from 'drizzle-orm';
import type { Rejection, Settlement } from '../usage/types';
import type { Executor } from './db';

// The ledger's settle, reject and sweep statements. Each is one round trip; batches are set-based (one JSON array in,
// expanded with jsonb_to_recordset, which both drivers pass the same way, nulls included).
// Money leaves SQL as text and becomes bigint here: the drivers disagree on int8.

/**
 * CTE `rolled_up`: the rows of `source` (key_id, routed_model, started_at, tokens, billed_cost;
 * each one final request) added to `usage_daily` by key, model and UTC day.
 */
export const dailyRollup = (source: SQL) => sql`
    rolled_up AS (
      INSERT INTO usage_daily AS u (key_id, model, day, requests, rejected_requests, prompt_tokens, completion_tokens, cost)
      SELECT key_id, routed_model, (started_at AT TIME ZONE 'UTC')::date,
        count(*), 0, sum(prompt_tokens), sum(completion_tokens), sum(billed_cost)
      FROM ${source}
      GROUP BY key_id, routed_model, (started_at AT TIME ZONE 'UTC')::date
      ON CONFLICT (key_id, model, day) DO UPDATE SET
        requests = u.requests + excluded.requests,
        prompt_tokens = u.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = u.completion_tokens + excluded.completion_tokens,
        cost = u.cost + excluded.cost
      RETURNING 1
    )`;

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
    ${dailyRollup(sql`finalized`)}`;

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
