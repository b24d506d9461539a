import { sql } from 'drizzle-orm';
import type { Executor } from './db';

/**
 * Makes sure usage_events has a partition for the month of `at` and the `ahead` months after it
 * (the 0003 migration's function; rows that landed in the default partition move into theirs).
 * Called at start and by maintenance, so a month's partition exists before its first request.
 */
export async function ensureUsagePartitions(ex: Executor, at: Date, ahead = 2): Promise<number> {
  const [row] = await ex.rows<{ made: number }>(sql`
    SELECT count(*) FILTER (WHERE made)::int AS made FROM (
      SELECT tollgate_ensure_usage_partition((date_trunc('month', ${at.toISOString()}::timestamptz AT TIME ZONE 'UTC') + make_interval(months => i))::date) AS made
      FROM generate_series(0, ${ahead}::int) AS i
    ) AS months`);
  return row?.made ?? 0;
}
