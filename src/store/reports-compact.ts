import { type SQL, sql } from 'drizzle-orm';
import type { Executor, Store } from './db';
import { epochMs } from './windows';

// Compacted usage (see usage_compact in schema.ts). A segment's compacted rows count exactly the
// ledger rows recorded at or before its `through`; rows recorded later are read from the ledger
// (usage_events_recorded_at_idx) when a report needs them. For that to be exact, every transaction
// that could still write a row recorded at or before `through` must be over before compaction
// reads: `recorded_at` is the writing transaction's start (now()), so `through` is set
// SETTLE_HORIZON before an instant at which no transaction older than that was running.

/** How long a transaction writing ledger rows may run before compaction waits for it. */
export const SETTLE_HORIZON_MS = 5 * 60_000;

export interface Segment {
  start: Date;
  end: Date;
}

export interface CompactedSegment extends Segment {
  through: Date;
}

const iso = (at: Date) => at.toISOString();

/**
 * The instant up to which compaction may count rows, or null when a transaction that started
 * before it is still running (then compaction waits for a later call).
 */
export async function compactionHorizon(ex: Executor): Promise<Date | null> {
  const [row] = await ex.rows<{ horizon_ms: number; blocked: boolean }>(sql`
    SELECT ${epochMs(sql`clock_timestamp() - ${`${SETTLE_HORIZON_MS} milliseconds`}::interval`)} AS horizon_ms,
      EXISTS (
        SELECT 1 FROM pg_stat_activity
        -- Client sessions of this database only: autovacuum and replication write no ledger rows.
        WHERE pid <> pg_backend_pid() AND datname = current_database() AND backend_type = 'client backend' AND xact_start IS NOT NULL
          AND xact_start <= clock_timestamp() - ${`${SETTLE_HORIZON_MS} milliseconds`}::interval
      ) AS blocked`);
  return row!.blocked ? null : new Date(Number(row!.horizon_ms));
}

/**
 * The local days (or hours) of `tz` lying wholly in [from, to) and ended by `endedBy`, as instants.
 * Hours are cut in instant space (an hour whose local minute is 0), so the repeated hour of a DST
 * change is two hours; an hour that is not 60 minutes (a 30-minute DST zone) is left out.
 */
export async function localUnits(ex: Executor, from: Date, to: Date, tz: string, unit: 'day' | 'hour', endedBy: Date): Promise<Segment[]> {
  const z = sql`${tz}::text`;
  const units =
    unit === 'day'
      ? sql`SELECT d AT TIME ZONE ${z} AS u_start, (d + interval '1 day') AT TIME ZONE ${z} AS u_end
          FROM generate_series(date_trunc('day', ${iso(from)}::timestamptz AT TIME ZONE ${z}), ${iso(to)}::timestamptz AT TIME ZONE ${z}, interval '1 day') AS d`
      : sql`SELECT q AS u_start, q + interval '1 hour' AS u_end
          FROM generate_series(${iso(from)}::timestamptz, ${iso(to)}::timestamptz - interval '1 hour', interval '15 minutes') AS q
          WHERE extract(minute FROM q AT TIME ZONE ${z}) = 0 AND extract(minute FROM (q + interval '1 hour') AT TIME ZONE ${z}) = 0`;
  const rows = await ex.rows<{ start_ms: number; end_ms: number }>(sql`
    SELECT ${epochMs(sql`s.u_start`)} AS start_ms, ${epochMs(sql`s.u_end`)} AS end_ms FROM (${units}) AS s
    WHERE s.u_start >= ${iso(from)}::timestamptz AND s.u_end <= ${iso(to)}::timestamptz AND s.u_end <= ${iso(endedBy)}::timestamptz
    ORDER BY 1`);
  return rows.map((row) => ({ start: new Date(Number(row.start_ms)), end: new Date(Number(row.end_ms)) }));
}

const segmentsJson = (segments: readonly Segment[]) => JSON.stringify(segments.map((s) => ({ s: iso(s.start), e: iso(s.end) })));

/** The segments among these that are compacted, with their `through`. */
export async function compactedSegments(ex: Executor, segments: readonly Segment[]): Promise<CompactedSegment[]> {
  if (segments.length === 0) return [];
  const rows = await ex.rows<{ start_ms: number; end_ms: number; through_ms: number }>(sql`
    SELECT ${epochMs(sql`c.segment_start`)} AS start_ms, ${epochMs(sql`c.segment_end`)} AS end_ms, ${epochMs(sql`c.through`)} AS through_ms
    FROM jsonb_to_recordset(${segmentsJson(segments)}::jsonb) AS w(s timestamptz, e timestamptz)
    JOIN usage_compact_segments c ON c.segment_start = w.s AND c.segment_end = w.e
    ORDER BY 1`);
  return rows.map((row) => ({
    start: new Date(Number(row.start_ms)),
    end: new Date(Number(row.end_ms)),
    through: new Date(Number(row.through_ms)),
  }));
}

/** Ledger rows of `segments` recorded after `after` (and at or before `upTo`), as signed rollup-shaped rows. */
const recordedRows = (segments: SQL, after: SQL, upTo: SQL | null, sign: 1 | -1) => sql`
  SELECT s.s AS segment_start, s.e AS segment_end, coalesce(e.team_id, '') AS team_id, e.key_id,
    coalesce(e.routed_model, e.requested_model) AS model, e.status, e.tags,
    ${sign}::bigint AS requests, ${sign}::bigint * e.prompt_tokens AS prompt_tokens,
    ${sign}::bigint * e.completion_tokens AS completion_tokens, ${sign}::numeric * e.billed_cost AS cost
  FROM ${segments} AS s
  JOIN usage_events e ON e.started_at >= s.s AND e.started_at < s.e AND e.recorded_at > ${after}
    ${upTo ? sql`AND e.recorded_at <= ${upTo}` : sql``}
  WHERE e.status <> 'pending'`;

/**
 * Compacts `segments` (not compacted yet) as of `horizon`: the rollup over each, less its rows
 * recorded after the horizon, in one snapshot. Serialized across instances; a segment another
 * call compacted meanwhile is skipped.
 */
export async function compactSegments(store: Store, segments: readonly Segment[], horizon: Date): Promise<void> {
  if (segments.length === 0) return;
  await store.transaction(async (tx) => {
    // The lock first, then one statement (one snapshot, taken after the lock): a second caller sees
    // what the first one wrote.
    await tx.rows(sql`SELECT pg_advisory_xact_lock(hashtext('tollgate:usage_compact'))`);
    await tx.rows(sql`SELECT set_config('work_mem', '256MB', true), set_config('jit', 'off', true)`);
    const todo = sql`(
      SELECT w.s, w.e FROM jsonb_to_recordset(${segmentsJson(segments)}::jsonb) AS w(s timestamptz, e timestamptz)
      WHERE NOT EXISTS (SELECT 1 FROM usage_compact_segments c WHERE c.segment_start = w.s AND c.segment_end = w.e)
    )`;
    const through = sql`${iso(horizon)}::timestamptz`;
    await tx.rows(sql`
      WITH todo AS ${todo},
      counted AS (
        SELECT t.s AS segment_start, t.e AS segment_end, r.team_id, r.key_id, r.model, r.status, r.tags,
          r.requests, r.prompt_tokens, r.completion_tokens, r.cost
        FROM todo t JOIN usage_rollup r ON r.bucket_start >= t.s AND r.bucket_start < t.e
        UNION ALL
        ${recordedRows(sql`todo`, through, null, -1)}
      ),
      summed AS (
        INSERT INTO usage_compact (segment_start, segment_end, team_id, key_id, model, status, tags, requests, prompt_tokens, completion_tokens, cost)
        SELECT segment_start, segment_end, team_id, key_id, model, status, tags, sum(requests), sum(prompt_tokens), sum(completion_tokens), sum(cost)
        FROM counted GROUP BY 1, 2, 3, 4, 5, 6, 7
        HAVING sum(requests) <> 0 OR sum(prompt_tokens) <> 0 OR sum(completion_tokens) <> 0 OR sum(cost) <> 0
        RETURNING 1
      )
      INSERT INTO usage_compact_segments (segment_start, segment_end, through)
      SELECT s, e, ${through} FROM todo`);
  });
}

/**
 * Moves compacted segments whose `through` is before `horizon` up to it, adding the rows recorded
 * in between; keeps what reports must read from the ledger small.
 */
export async function refreshSegments(store: Store, staleBefore: Date, horizon: Date): Promise<number> {
  return store.transaction(async (tx) => {
    // The lock first, then one statement (one snapshot, taken after the lock): a second caller sees
    // what the first one wrote.
    await tx.rows(sql`SELECT pg_advisory_xact_lock(hashtext('tollgate:usage_compact'))`);
    await tx.rows(sql`SELECT set_config('work_mem', '256MB', true), set_config('jit', 'off', true)`);
    const stale = sql`(SELECT segment_start AS s, segment_end AS e, through FROM usage_compact_segments WHERE through < ${iso(staleBefore)}::timestamptz)`;
    const [row] = await tx.rows<{ moved: number }>(sql`
      WITH stale AS ${stale},
      lo AS (SELECT min(through) AS t FROM stale),
      added AS (
        SELECT s.s AS segment_start, s.e AS segment_end, coalesce(e.team_id, '') AS team_id, e.key_id,
          coalesce(e.routed_model, e.requested_model) AS model, e.status, e.tags,
          count(*) AS requests, sum(e.prompt_tokens) AS prompt_tokens, sum(e.completion_tokens) AS completion_tokens, sum(e.billed_cost) AS cost
        FROM usage_events e
        JOIN stale s ON e.started_at >= s.s AND e.started_at < s.e AND e.recorded_at > s.through
        WHERE e.recorded_at > (SELECT t FROM lo) AND e.recorded_at <= ${iso(horizon)}::timestamptz AND e.status <> 'pending'
        GROUP BY 1, 2, 3, 4, 5, 6, 7
      ),
      merged AS (
        INSERT INTO usage_compact AS u (segment_start, segment_end, team_id, key_id, model, status, tags, requests, prompt_tokens, completion_tokens, cost)
        SELECT * FROM added
        ON CONFLICT (segment_start, segment_end, key_id, model, status, tags, team_id) DO UPDATE SET
          requests = u.requests + excluded.requests, prompt_tokens = u.prompt_tokens + excluded.prompt_tokens,
          completion_tokens = u.completion_tokens + excluded.completion_tokens, cost = u.cost + excluded.cost
        RETURNING 1
      ),
      moved AS (
        UPDATE usage_compact_segments c SET through = ${iso(horizon)}::timestamptz
        FROM stale WHERE c.segment_start = stale.s AND c.segment_end = stale.e AND c.through < ${iso(horizon)}::timestamptz
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM moved)::int AS moved, (SELECT count(*) FROM merged)::int AS merged`);
    return row?.moved ?? 0;
  });
}

/**
 * Rollup-shaped rows of compacted segments: their compacted sums plus their rows recorded after
 * `through` (from the ledger). Columns: segment_start, team_id, key_id, model, status, tags,
 * requests, prompt_tokens, completion_tokens, cost.
 */
export function compactedSource(segments: readonly CompactedSegment[]): SQL {
  const list = JSON.stringify(segments.map((s) => ({ s: iso(s.start), e: iso(s.end), t: iso(s.through) })));
  const used = sql`(SELECT * FROM jsonb_to_recordset(${list}::jsonb) AS w(s timestamptz, e timestamptz, t timestamptz))`;
  const oldest = new Date(Math.min(...segments.map((s) => s.through.getTime())));
  return sql`(
    SELECT c.segment_start AS at, c.team_id, c.key_id, c.model, c.status, c.tags, c.requests, c.prompt_tokens, c.completion_tokens, c.cost
    FROM ${used} AS w JOIN usage_compact c ON c.segment_start = w.s AND c.segment_end = w.e
    UNION ALL
    SELECT w.s, coalesce(e.team_id, ''), e.key_id, coalesce(e.routed_model, e.requested_model), e.status, e.tags,
      1::bigint, e.prompt_tokens, e.completion_tokens, e.billed_cost::numeric
    FROM usage_events e JOIN ${used} AS w ON e.started_at >= w.s AND e.started_at < w.e AND e.recorded_at > w.t
    WHERE e.recorded_at > ${iso(oldest)}::timestamptz AND e.status <> 'pending'
  )`;
}

/**
 * Maintenance's share: compacts the local days of `zones` that ended in the last `lookbackDays`
 * (at most `maxDays` new ones a call, so a pass stays short) and brings older segments up to
 * date, so that no report pays for the first read of a day. Returns the days compacted.
 */
export async function compactEndedDays(store: Store, zones: readonly string[], now: Date, lookbackDays = 40, maxDays = 8): Promise<number> {
  const horizon = await compactionHorizon(store);
  if (!horizon) return 0;
  await refreshSegments(store, new Date(horizon.getTime() - 10 * 60_000), horizon);
  let made = 0;
  for (const zone of zones) {
    const from = new Date(Math.floor((now.getTime() - lookbackDays * 86_400_000) / 900_000) * 900_000);
    const days = await localUnits(store, from, horizon, zone, 'day', horizon);
    const done = new Set((await compactedSegments(store, days)).map((segment) => segment.start.getTime()));
    const missing = days.filter((day) => !done.has(day.start.getTime())).slice(-(maxDays - made));
    if (missing.length === 0) continue;
    await compactSegments(store, missing, horizon);
    made += missing.length;
    if (made >= maxDays) break;
  }
  return made;
}
