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

/** One beat; the database clock decides, so instances need not agree on time. */
export async function heartbeat(ex: Executor, id: string): Promise<void> {
  await ex.rows(sql`UPDATE gateway_instances SET heartbeat_at = now() WHERE id = ${id}`);
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
