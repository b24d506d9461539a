import { sql } from 'drizzle-orm';
import type { Executor } from './db';
import { rootCause } from './errors';

/**
 * Whether the database answers and has every migration in `tags` applied ('migrations_pending'
 * when any is missing, or none ever was). Throws when the database cannot be reached.
 */
export async function databaseState(ex: Executor, tags: readonly string[]): Promise<'ready' | 'migrations_pending'> {
  if (tags.length === 0) {
    await ex.rows(sql`SELECT 1`);
    return 'ready';
  }
  try {
    const [row] = await ex.rows<{ applied: number }>(sql`
      SELECT count(*)::int AS applied FROM tollgate_migrations
      WHERE tag IN (SELECT jsonb_array_elements_text(${JSON.stringify(tags)}::jsonb))`);
    return Number(row?.applied) === tags.length ? 'ready' : 'migrations_pending';
  } catch (error) {
    if ((rootCause(error) as { code?: unknown } | null)?.code === '42P01') return 'migrations_pending'; // no tollgate_migrations
    throw error;
  }
}
