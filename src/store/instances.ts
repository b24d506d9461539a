import { sql } from 'drizzle-orm';
import type { Executor } from './db';

// Gateway instances and their heartbeats: the sweeper settles a pending row at once when the
// instance that owns it stopped beating, instead of waiting for the longest backend deadline.

export interface InstanceInfo {
  id: string;
  host: string;
  pid: number | null;
}

export async function registerInstance(ex: Executor, instance: InstanceInfo): Promise<void> {
  await ex.rows(sql`
    INSERT INTO gateway_instances (id, host, pid) VALUES (${instance.id}, ${instance.host}, ${instance.pid})
    ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), stopped_at = NULL`);
}

/**
 * One beat; the database clock decides, so instances need not agree on time. Answers how long
 * ago (by that clock) the previous beat was, or null when the instance was not registered (any
 * more: it was pruned, or marked stopped); then it is registered again.
 */
export async function heartbeat(ex: Executor, instance: InstanceInfo): Promise<{ sincePreviousMs: number | null }> {
  const [row] = await ex.rows<{ since_ms: number | null }>(sql`
    WITH previous AS (SELECT heartbeat_at, stopped_at FROM gateway_instances WHERE id = ${instance.id}),
    beat AS (
      INSERT INTO gateway_instances (id, host, pid) VALUES (${instance.id}, ${instance.host}, ${instance.pid})
      ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), stopped_at = NULL
      RETURNING 1
    )
    SELECT (SELECT CASE WHEN stopped_at IS NULL THEN (extract(epoch FROM now() - heartbeat_at) * 1000)::float8 END FROM previous) AS since_ms
    FROM beat`);
  return { sincePreviousMs: row?.since_ms === null || row?.since_ms === undefined ? null : Number(row.since_ms) };
}

/**
 * Of `ids`, the instances still alive: registered, not stopped, and beaten within `silentMs` by
 * the database's clock.
 */
export async function liveInstances(ex: Executor, ids: readonly string[], silentMs: number): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await ex.rows<{ id: string }>(sql`
    SELECT id FROM gateway_instances
    WHERE id IN (SELECT jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))
      AND stopped_at IS NULL AND heartbeat_at >= now() - make_interval(secs => ${silentMs / 1000}::float8)`);
  return new Set(rows.map((row) => row.id));
}

/** A clean stop: its remaining pending rows (if any) are the sweeper's at once. */
export async function stopInstance(ex: Executor, id: string): Promise<void> {
  await ex.rows(sql`UPDATE gateway_instances SET stopped_at = now() WHERE id = ${id}`);
}

/** The database's clock, for cutoffs compared with heartbeats. */
export async function databaseNow(ex: Executor): Promise<Date> {
  const [row] = await ex.rows<{ ms: number }>(sql`SELECT (extract(epoch FROM now()) * 1000)::float8 AS ms`);
  return new Date(Number(row!.ms));
}

/** Instances silent for a day are forgotten. */
export async function pruneInstances(ex: Executor, before: Date): Promise<void> {
  await ex.rows(sql`DELETE FROM gateway_instances WHERE heartbeat_at < ${before.toISOString()}::timestamptz`);
}
