import { sql } from 'drizzle-orm';
import type { Executor } from './db';
import { finalEffects, finalizedColumns } from './record';

export interface SweepCutoffs {
  /** A pending row started before this is abandoned, whoever owns it (the longest backend deadline has passed). */
  startedBefore: Date;
  /**
   * A pending row whose owning instance last beat before this (or stopped, or never registered)
   * is abandoned at once: its owner is gone and nothing else will settle it. Absent: only
   * `startedBefore` counts.
   */
  ownerSilentSince?: Date;
}

/**
 * Finalizes up to `limit` abandoned pending rows as `incomplete`, billing the prompt estimate at
 * the row's price and no completion, releasing the reservation. Rows another sweeper holds are
 * skipped; a row settled meanwhile is left alone (`status = 'pending'` guards it).
 */
export async function sweepPendingRequests(ex: Executor, cutoffs: SweepCutoffs, now: Date, limit: number): Promise<number> {
  const silentSince = cutoffs.ownerSilentSince?.toISOString() ?? null;
  const [row] = await ex.rows<{ finalized: number }>(sql`
    WITH stale AS (
      SELECT e.key_id, e.request_id, e.started_month FROM usage_events e
      WHERE e.status = 'pending'
        AND (e.started_at < ${cutoffs.startedBefore.toISOString()}::timestamptz
             OR (${silentSince}::timestamptz IS NOT NULL AND e.instance_id IS NOT NULL AND NOT EXISTS (
                   SELECT 1 FROM gateway_instances i
                   WHERE i.id = e.instance_id AND i.stopped_at IS NULL AND i.heartbeat_at >= ${silentSince}::timestamptz)))
      ORDER BY e.started_at
      LIMIT ${limit}::int
      FOR UPDATE OF e SKIP LOCKED
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
        finished_at = ${now.toISOString()}::timestamptz,
        recorded_at = now()
      FROM stale
      WHERE e.key_id = stale.key_id AND e.request_id = stale.request_id AND e.started_month = stale.started_month AND e.status = 'pending'
      RETURNING ${finalizedColumns}
    ),
    ${finalEffects(sql`finalized`)}
    SELECT count(*)::int AS finalized FROM finalized`);
  return row?.finalized ?? 0;
}

/** Rate windows older than `before` are of no further use. */
export async function pruneRateWindows(ex: Executor, before: Date): Promise<void> {
  await ex.rows(sql`DELETE FROM rate_windows WHERE minute_start < ${before.toISOString()}::timestamptz`);
}
