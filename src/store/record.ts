import { type SQL, sql } from 'drizzle-orm';
import type { RecordOutcome, Rejection, Settlement } from '../ledger/types';
import { monthOf } from './admission';
import { compile, type Executor } from './db';
import { epochMs, windowBounds } from './windows';

// The ledger's one write: final rows. A final row finalizes its request's pending row (releasing
// the reservation and adding the billed cost to the window); a request with no pending row (a
// rejection, a request admitted while the database was away, an admission that was lost) is
// written whole, its cost added to its window without a reservation. Every row is final once:
// a second write of the same request changes nothing. Batches are set-based (one JSON array in,
// expanded with jsonb_to_recordset, which both drivers pass the same way, nulls included).

/** The rollup bucket of an instant: its UTC quarter hour (every zone's offset is whole quarter hours). */
export const rollupBucket = (at: SQL) => sql`date_bin('15 minutes', ${at}, '2000-01-01T00:00:00Z'::timestamptz)`;

/**
 * CTEs `deltas`, `windows` and `rolled_up` over `source` (final rows just written: key_id,
 * team_id, tags, model, status, started_at, budget_window_start, window_end (null when the window
 * row surely exists), billed_cost, reserved_cost, prompt_tokens, completion_tokens,
 * reserved_tokens): each window's reservation is released and replaced by the billed cost and
 * tokens, in one upsert per window, and the quarter-hour rollup grows.
 */
export const finalEffects = (source: SQL) => sql`
    deltas AS (
      SELECT key_id, budget_window_start AS window_start, max(window_end) AS window_end,
        sum(billed_cost)::bigint AS spent_cost, sum(reserved_cost)::bigint AS released_cost,
        sum(prompt_tokens + completion_tokens)::bigint AS spent_tokens, sum(reserved_tokens)::bigint AS released_tokens
      FROM ${source} WHERE budget_window_start IS NOT NULL
      GROUP BY key_id, budget_window_start
    ),
    windows AS (
      INSERT INTO budget_windows AS w (key_id, window_start, window_end, spent_cost, reserved_cost, spent_tokens, reserved_tokens)
      SELECT key_id, window_start, coalesce(window_end, window_start), spent_cost, -released_cost, spent_tokens, -released_tokens FROM deltas
      ON CONFLICT (key_id, window_start) DO UPDATE SET
        spent_cost = w.spent_cost + excluded.spent_cost,
        reserved_cost = w.reserved_cost + excluded.reserved_cost,
        spent_tokens = w.spent_tokens + excluded.spent_tokens,
        reserved_tokens = w.reserved_tokens + excluded.reserved_tokens
      RETURNING w.key_id, w.window_start, w.spent_cost + w.reserved_cost AS used_cost, w.spent_tokens + w.reserved_tokens AS used_tokens
    ),
    rolled_up AS (
      INSERT INTO usage_rollup AS u (bucket_start, team_id, key_id, model, status, tags, requests, prompt_tokens, completion_tokens, cost)
      SELECT ${rollupBucket(sql.raw('started_at'))}, coalesce(team_id, ''), key_id, model, status, tags,
        count(*), sum(prompt_tokens), sum(completion_tokens), sum(billed_cost)
      FROM ${source}
      GROUP BY 1, 2, key_id, model, status, tags
      ON CONFLICT (bucket_start, key_id, model, status, tags, team_id) DO UPDATE SET
        requests = u.requests + excluded.requests,
        prompt_tokens = u.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = u.completion_tokens + excluded.completion_tokens,
        cost = u.cost + excluded.cost
      RETURNING 1
    )`;

/** The columns `finalEffects` reads, from a finalized usage_events row `e`. */
export const finalizedColumns = sql`e.request_id, e.key_id, e.team_id, e.tags, coalesce(e.routed_model, e.requested_model) AS model,
        e.status, e.started_at, e.budget_window_start, NULL::timestamptz AS window_end, e.reserved_cost, e.billed_cost,
        e.prompt_tokens, e.completion_tokens, coalesce(e.prompt_tokens_estimated, 0) + coalesce(e.max_completion_tokens, 0) AS reserved_tokens`;

interface InputRow {
  request_id: string;
  key_id: string;
  started_at: string;
  started_month: string;
  status: string;
  prompt_tokens: number;
  completion_tokens: number;
  usage_source: string;
  usage_note: string | null;
  completion_tokens_estimated: number | null;
  billed_cost: string;
  latency_ms: number | null;
  ttft_ms: number | null;
  error_code: string | null;
  finished_at: string;
  /** The row can be written whole (its request fields are given). */
  whole: boolean;
  tags: Record<string, string>;
  instance_id: string | null;
  endpoint: string | null;
  requested_model: string | null;
  routed_model: string | null;
  backend: string | null;
  stream: boolean | null;
  prompt_tokens_estimated: number | null;
  max_completion_tokens: number | null;
  reserved_cost: string;
  price_id: number | null;
  admitted_fail_open: boolean;
  /** Null: keep what the row has (its default, 1). */
  attempts: number | null;
  replica: string | null;
  traceparent: string | null;
  /** Leased (Settlement.lease): the instance, window and amounts its row takes from the lease. */
  lease_instance: string | null;
  lease_window_start: string | null;
  lease_window_end: string | null;
  lease_cost: string | null;
  lease_tokens: number | null;
}

function settlementInput(s: Settlement): InputRow {
  const a = s.row?.admission;
  return {
    request_id: s.requestId,
    key_id: s.keyId,
    started_at: s.startedAt.toISOString(),
    started_month: monthOf(s.startedAt),
    status: s.status,
    prompt_tokens: s.promptTokens,
    completion_tokens: s.completionTokens,
    usage_source: s.usageSource,
    usage_note: s.usageNote ?? null,
    completion_tokens_estimated: s.completionTokensEstimated,
    billed_cost: s.billedCost.toString(),
    latency_ms: s.latencyMs,
    ttft_ms: s.ttftMs,
    error_code: s.errorCode,
    finished_at: s.finishedAt.toISOString(),
    whole: a !== undefined,
    tags: a?.tags ?? {},
    instance_id: a?.instanceId ?? null,
    endpoint: a?.endpoint ?? null,
    requested_model: a?.requestedModel ?? null,
    routed_model: a?.routedModel ?? null,
    backend: a?.backend ?? null,
    stream: a?.stream ?? null,
    prompt_tokens_estimated: a?.promptTokens ?? null,
    max_completion_tokens: a?.maxCompletionTokens ?? null,
    reserved_cost: (s.row?.reservedCost ?? 0n).toString(),
    price_id: s.row?.priceId ?? null,
    admitted_fail_open: s.row?.admittedFailOpen ?? false,
    attempts: s.attempts ?? null,
    replica: s.replica ?? null,
    traceparent: s.traceparent ?? null,
    lease_instance: s.lease?.instanceId ?? null,
    lease_window_start: s.lease?.windowStart.toISOString() ?? null,
    lease_window_end: s.lease?.windowEnd.toISOString() ?? null,
    lease_cost: s.lease?.cost.toString() ?? null,
    lease_tokens: s.lease?.tokens ?? null,
  };
}

function rejectionInput(r: Rejection): InputRow {
  return {
    request_id: r.requestId,
    key_id: r.keyId,
    started_at: r.startedAt.toISOString(),
    started_month: monthOf(r.startedAt),
    status: 'rejected',
    prompt_tokens: 0,
    completion_tokens: 0,
    usage_source: 'none',
    usage_note: null,
    completion_tokens_estimated: null,
    billed_cost: '0',
    latency_ms: null,
    ttft_ms: null,
    error_code: r.errorCode,
    finished_at: r.finishedAt.toISOString(),
    whole: true,
    tags: r.tags ?? {},
    instance_id: null,
    endpoint: r.endpoint,
    requested_model: r.requestedModel,
    routed_model: r.routedModel,
    backend: null,
    stream: r.stream,
    prompt_tokens_estimated: r.promptTokens,
    max_completion_tokens: null,
    reserved_cost: '0',
    price_id: null,
    admitted_fail_open: false,
    // Refused before anything was sent to a backend.
    attempts: 0,
    replica: null,
    traceparent: r.traceparent ?? null,
    lease_instance: null,
    lease_window_start: null,
    lease_window_end: null,
    lease_cost: null,
    lease_tokens: null,
  };
}

interface OutcomeRow extends Record<string, unknown> {
  request_id: string;
  key_id: string;
  started_month: string;
  id_taken: boolean;
  over_limit: boolean;
  window_start_ms: number | null;
}

// Built once (compile): only the batch (one JSON array) and the commit mode change per call.
const RECORD = compile<{ input: string; synchronousCommit: 'on' | 'off' }>(sql`
    WITH input AS (
      SELECT * FROM jsonb_to_recordset(${sql.placeholder('input')}::jsonb) AS s(
        request_id text, key_id text, started_at timestamptz, started_month date, status text, prompt_tokens bigint,
        completion_tokens bigint, usage_source text, usage_note text, completion_tokens_estimated bigint, billed_cost bigint,
        latency_ms int, ttft_ms int, error_code text, finished_at timestamptz, whole boolean, tags jsonb, instance_id text,
        endpoint text, requested_model text, routed_model text, backend text, stream boolean, prompt_tokens_estimated bigint,
        max_completion_tokens bigint, reserved_cost bigint, price_id int, admitted_fail_open boolean, attempts int, replica text,
        traceparent text, lease_instance text, lease_window_start timestamptz, lease_window_end timestamptz, lease_cost bigint,
        lease_tokens bigint)
    ),
    finalized AS (
      UPDATE usage_events e SET
        status = s.status, prompt_tokens = s.prompt_tokens, completion_tokens = s.completion_tokens,
        usage_source = s.usage_source, usage_note = s.usage_note, completion_tokens_estimated = s.completion_tokens_estimated,
        billed_cost = s.billed_cost, over_reservation = s.billed_cost > e.reserved_cost,
        admitted_fail_open = e.admitted_fail_open OR s.admitted_fail_open,
        latency_ms = s.latency_ms, ttft_ms = s.ttft_ms, error_code = s.error_code, finished_at = s.finished_at, recorded_at = now(),
        attempts = coalesce(s.attempts, e.attempts), replica = coalesce(s.replica, e.replica),
        traceparent = coalesce(s.traceparent, e.traceparent)
      FROM input s
      WHERE e.key_id = s.key_id AND e.request_id = s.request_id AND e.started_month = s.started_month AND e.status = 'pending'
      RETURNING ${finalizedColumns}
    ),
    -- Requests with no pending row, written whole; their window is the key's budget as it is now.
    -- They reserved nothing, so their window can pass its limit: a row that takes it past (counted
    -- in the batch's order) is flagged over_limit as it is written.
    placed AS (
      SELECT s.*, k.team_id, coalesce(s.lease_window_start, w.window_start) AS window_start,
        coalesce(s.lease_window_end, w.window_end) AS window_end,
        bl.key_id IS NULL AND coalesce(
          (b.limit_cost IS NOT NULL
            AND coalesce(cw.spent_cost, 0) + coalesce(cw.reserved_cost, 0) + sum(s.billed_cost) OVER win > b.limit_cost)
          OR (b.limit_tokens IS NOT NULL
            AND coalesce(cw.spent_tokens, 0) + coalesce(cw.reserved_tokens, 0) + sum(s.prompt_tokens + s.completion_tokens) OVER win > b.limit_tokens),
          false) AS over_limit
      FROM input s
      LEFT JOIN api_keys k ON k.id = s.key_id
      LEFT JOIN LATERAL (
        SELECT ${windowBounds(sql`s.started_at`)} FROM budgets b
        WHERE b.key_id = s.key_id AND (s.billed_cost > 0 OR s.prompt_tokens + s.completion_tokens > 0)
      ) w ON true
      LEFT JOIN budgets b ON b.key_id = s.key_id AND w.window_start IS NOT NULL
      LEFT JOIN budget_windows cw ON cw.key_id = s.key_id AND cw.window_start = w.window_start
      LEFT JOIN budget_leases bl ON bl.key_id = s.key_id AND bl.window_start = s.lease_window_start AND bl.instance_id = s.lease_instance
      WHERE s.whole AND NOT EXISTS (SELECT 1 FROM finalized f WHERE f.key_id = s.key_id AND f.request_id = s.request_id)
      WINDOW win AS (PARTITION BY s.key_id, w.window_start ORDER BY s.started_at, s.request_id)
    ),
    inserted AS (
      INSERT INTO usage_events (request_id, key_id, team_id, tags, instance_id, endpoint, requested_model, routed_model, backend,
        status, stream, prompt_tokens_estimated, max_completion_tokens, prompt_tokens, completion_tokens, completion_tokens_estimated,
        usage_source, usage_note, reserved_cost, billed_cost, over_reservation, admitted_fail_open, over_limit, price_id, budget_window_start,
        latency_ms, ttft_ms, error_code, started_at, started_month, finished_at, recorded_at, attempts, replica, traceparent)
      SELECT request_id, key_id, team_id, tags, instance_id, endpoint, requested_model, routed_model, backend,
        status, stream, prompt_tokens_estimated, max_completion_tokens, prompt_tokens, completion_tokens, completion_tokens_estimated,
        usage_source, usage_note, reserved_cost, billed_cost, billed_cost > reserved_cost, admitted_fail_open, over_limit, price_id, window_start,
        latency_ms, ttft_ms, error_code, started_at, started_month, finished_at, now(), coalesce(attempts, 1), replica, traceparent
      FROM placed
      ON CONFLICT (key_id, request_id, started_month) DO NOTHING
      RETURNING request_id, key_id, team_id, tags, coalesce(routed_model, requested_model) AS model, status, started_at,
        budget_window_start, 0::bigint AS reserved_cost, billed_cost, prompt_tokens, completion_tokens, 0::bigint AS reserved_tokens,
        over_limit
    ),
    -- Leased rows spend their lease down (it was in the window's reserved): the lease row is locked
    -- here, before the window row (finalEffects), the order every statement on both keeps. A lease
    -- released meanwhile (its instance was judged gone) takes nothing: the row then counts in full.
    lease_spent AS (
      UPDATE budget_leases l SET cost = greatest(l.cost - x.cost, 0), tokens = greatest(l.tokens - x.tokens, 0)
      FROM (
        SELECT p.key_id, p.lease_window_start, p.lease_instance, sum(p.lease_cost)::bigint AS cost, sum(p.lease_tokens)::bigint AS tokens
        FROM inserted i JOIN placed p ON p.key_id = i.key_id AND p.request_id = i.request_id
        WHERE p.lease_instance IS NOT NULL
        GROUP BY p.key_id, p.lease_window_start, p.lease_instance
      ) x
      WHERE l.key_id = x.key_id AND l.window_start = x.lease_window_start AND l.instance_id = x.lease_instance
      RETURNING l.key_id, l.window_start, l.instance_id
    ),
    touched AS (
      SELECT request_id, key_id, team_id, tags, model, status, started_at, budget_window_start, window_end, reserved_cost, billed_cost,
        prompt_tokens, completion_tokens, reserved_tokens
      FROM finalized
      UNION ALL
      SELECT i.request_id, i.key_id, i.team_id, i.tags, i.model, i.status, i.started_at, i.budget_window_start, p.window_end,
        CASE WHEN ls.key_id IS NULL THEN i.reserved_cost ELSE p.lease_cost END,
        i.billed_cost, i.prompt_tokens, i.completion_tokens,
        CASE WHEN ls.key_id IS NULL THEN i.reserved_tokens ELSE p.lease_tokens END
      FROM inserted i JOIN placed p ON p.key_id = i.key_id AND p.request_id = i.request_id
      LEFT JOIN lease_spent ls ON ls.key_id = p.key_id AND ls.window_start = p.lease_window_start AND ls.instance_id = p.lease_instance
    ),
    ${finalEffects(sql`touched`)},
    over AS (SELECT key_id, request_id, budget_window_start FROM inserted WHERE over_limit)
    -- usage_events here is the table before this statement: a final row already there with another
    -- start time is another request holding the id; with the same one, this request written before.
    SELECT s.request_id, s.key_id, s.started_month::text AS started_month,
      s.whole AND NOT EXISTS (SELECT 1 FROM touched t WHERE t.key_id = s.key_id AND t.request_id = s.request_id)
        AND EXISTS (SELECT 1 FROM usage_events e WHERE e.key_id = s.key_id AND e.request_id = s.request_id
                    AND e.started_month = s.started_month AND e.started_at <> s.started_at) AS id_taken,
      o.request_id IS NOT NULL AS over_limit, ${epochMs(sql.raw('o.budget_window_start'))} AS window_start_ms
    FROM input s LEFT JOIN over o ON o.key_id = s.key_id AND o.request_id = s.request_id
    -- set_config(…, true) lasts for this statement's own transaction (see LedgerOptions.durableWrites).
    CROSS JOIN (SELECT set_config('synchronous_commit', ${sql.placeholder('synchronousCommit')}, true)) AS commit_mode`);

/**
 * Writes final rows, each once; run it in one transaction with anything else of the batch. A
 * rejection whose request already has a pending row (an admission that answered too late)
 * finalizes it at no cost and releases its reservation.
 */
export async function recordFinalRows(
  ex: Executor,
  settlements: readonly Settlement[],
  rejections: readonly Rejection[],
  options: { durable?: boolean } = {},
): Promise<RecordOutcome> {
  const input = [...settlements.map(settlementInput), ...rejections.map(rejectionInput)];
  if (input.length === 0) return { overLimit: [], idTaken: [] };
  const rows = await ex.query<OutcomeRow>(
    RECORD.text,
    RECORD.params({ input: JSON.stringify(input), synchronousCommit: options.durable === false ? 'off' : 'on' }),
  );
  const over = rows.filter((row) => row.over_limit);
  return {
    overLimit: over.map((row) => ({ requestId: row.request_id, keyId: row.key_id, windowStart: new Date(Number(row.window_start_ms)) })),
    idTaken: rows.filter((row) => row.id_taken).map((row) => row.request_id),
  };
}
