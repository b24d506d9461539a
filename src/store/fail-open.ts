import { sql } from 'drizzle-orm';
import type { FailOpenRequest } from '../usage/types';
import { windowBounds } from './admission';
import { dailyRollup } from './ledger';
import type { Executor } from './db';

/** What became of each request given to recordFailOpenRequests, by request id. */
export interface FailOpenOutcome {
  /** Rows this call inserted (and billed). */
  written: string[];
  /** Ids another request already holds: nothing was written or billed for these. */
  idTaken: string[];
  /** Of `written`, those whose budget window ended up over its limit; their rows say `over_limit`. */
  overLimit: string[];
}

interface OutcomeRow extends Record<string, unknown> {
  request_id: string;
  written: boolean;
  id_taken: boolean;
  over_limit: boolean;
}

/**
 * Writes requests admitted while the database was unreachable: each whole final row (there was
 * no pending row), its cost added to the spent of the budget window it falls in now (with no
 * reservation to respect, this can pass the limit), and the daily rollup. Idempotent by request
 * id: a row already there is left alone and nothing is added again, so a batch retried after a
 * commit whose answer was lost bills nothing twice. Run it inside the settle transaction.
 */
export async function recordFailOpenRequests(ex: Executor, requests: readonly FailOpenRequest[]): Promise<FailOpenOutcome> {
  if (requests.length === 0) return { written: [], idTaken: [], overLimit: [] };
  const input = requests.map(({ admission: a, price, reservedCost, settlement: s }) => ({
    request_id: a.requestId,
    key_id: a.keyId,
    endpoint: a.endpoint,
    requested_model: a.requestedModel,
    routed_model: a.routedModel,
    backend: a.backend,
    stream: a.stream,
    prompt_tokens_estimated: a.promptTokens,
    max_completion_tokens: a.maxCompletionTokens,
    reserved_cost: reservedCost.toString(),
    price_id: price.id,
    started_at: a.startedAt.toISOString(),
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
  const rows = await ex.rows<OutcomeRow>(sql`
    WITH input AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(input)}::jsonb) AS s(
        request_id text, key_id text, endpoint text, requested_model text, routed_model text, backend text, stream boolean,
        prompt_tokens_estimated int, max_completion_tokens int, reserved_cost bigint, price_id int, started_at timestamptz,
        status text, prompt_tokens int, completion_tokens int, usage_source text, completion_tokens_estimated int,
        billed_cost bigint, latency_ms int, ttft_ms int, error_code text, finished_at timestamptz)
    ),
    -- The window each request falls in, from the key's budget as it is now (none: unbudgeted).
    placed AS (
      SELECT s.*, w.window_start, w.window_end
      FROM input s LEFT JOIN LATERAL (SELECT ${windowBounds(sql`s.started_at`)} FROM budgets b WHERE b.key_id = s.key_id) w ON true
    ),
    written AS (
      INSERT INTO usage_events (request_id, key_id, endpoint, requested_model, routed_model, backend, status, stream,
        prompt_tokens_estimated, max_completion_tokens, prompt_tokens, completion_tokens, completion_tokens_estimated,
        usage_source, reserved_cost, billed_cost, over_reservation, price_id, budget_window_start, latency_ms, ttft_ms,
        error_code, started_at, finished_at, admitted_fail_open)
      SELECT request_id, key_id, endpoint, requested_model, routed_model, backend, status, stream,
        prompt_tokens_estimated, max_completion_tokens, prompt_tokens, completion_tokens, completion_tokens_estimated,
        usage_source, reserved_cost, billed_cost, billed_cost > reserved_cost, price_id, window_start, latency_ms, ttft_ms,
        error_code, started_at, finished_at, true
      FROM placed
      ON CONFLICT (request_id) DO NOTHING
      RETURNING request_id, key_id, routed_model, started_at, budget_window_start, billed_cost, prompt_tokens, completion_tokens
    ),
    -- Spend only for rows inserted just now; RETURNING gives the window after the addition.
    spent AS (
      INSERT INTO budget_windows AS w (key_id, window_start, window_end, spent_cost, reserved_cost, spent_tokens, reserved_tokens)
      SELECT p.key_id, p.window_start, p.window_end, sum(p.billed_cost)::bigint, 0, sum(p.prompt_tokens + p.completion_tokens)::bigint, 0
      FROM placed p JOIN written USING (request_id)
      WHERE p.window_start IS NOT NULL
      GROUP BY p.key_id, p.window_start, p.window_end
      ON CONFLICT (key_id, window_start) DO UPDATE SET
        spent_cost = w.spent_cost + excluded.spent_cost,
        spent_tokens = w.spent_tokens + excluded.spent_tokens
      RETURNING w.key_id, w.window_start, w.spent_cost + w.reserved_cost AS used_cost, w.spent_tokens + w.reserved_tokens AS used_tokens
    ),
    -- Windows where the invariant spent + reserved <= limit no longer holds.
    over AS (
      SELECT s.key_id, s.window_start FROM spent s JOIN budgets b ON b.key_id = s.key_id
      WHERE (b.limit_cost IS NOT NULL AND s.used_cost > b.limit_cost) OR (b.limit_tokens IS NOT NULL AND s.used_tokens > b.limit_tokens)
    ),
    ${dailyRollup(sql`written`)}
    -- usage_events here is the table before this statement: a row already there is either this
    -- same fail-open request (a retried batch) or another request holding the id.
    SELECT s.request_id,
      EXISTS (SELECT 1 FROM written w WHERE w.request_id = s.request_id) AS written,
      EXISTS (SELECT 1 FROM usage_events e WHERE e.request_id = s.request_id
              AND NOT (e.admitted_fail_open AND e.key_id = s.key_id AND e.started_at = s.started_at)) AS id_taken,
      EXISTS (SELECT 1 FROM written w JOIN over o ON o.key_id = w.key_id AND o.window_start = w.budget_window_start
              WHERE w.request_id = s.request_id) AS over_limit
    FROM input s`);
  const outcome: FailOpenOutcome = {
    written: rows.filter((row) => row.written).map((row) => row.request_id),
    idTaken: rows.filter((row) => row.id_taken).map((row) => row.request_id),
    overLimit: rows.filter((row) => row.over_limit).map((row) => row.request_id),
  };
  // A statement cannot update a row it inserted, so the flag is a second one, in the same transaction.
  if (outcome.overLimit.length > 0) {
    await ex.rows(sql`
      UPDATE usage_events SET over_limit = true
      WHERE request_id IN (SELECT jsonb_array_elements_text(${JSON.stringify(outcome.overLimit)}::jsonb))`);
  }
  return outcome;
}
