import { type SQL, sql } from 'drizzle-orm';
import { type BudgetPeriod, TOTAL_WINDOW } from '../budget/periods';
import type { Executor } from './db';

// The budget window rule (budget/periods.ts), in the one place it is computed: SQL. Admission,
// the admin view, /v1/estimate and reports all use this fragment, so they cannot disagree.

const TOTAL_START = TOTAL_WINDOW.windowStart.toISOString();
const TOTAL_END = TOTAL_WINDOW.windowEnd.toISOString();

export const epochMs = (column: SQL) => sql`(extract(epoch FROM ${column}) * 1000)::float8`;

/**
 * `window_start, window_end` of the window of budget row `b` (period, timezone) that holds the
 * instant `at`. Local wall-clock arithmetic, then back to an instant: a DST day is 23 or 25 hours.
 */
export const windowBounds = (at: SQL, b: SQL = sql.raw('b')) => sql`
        CASE WHEN ${b}.period = 'total' THEN ${TOTAL_START}::timestamptz
             ELSE date_trunc(${b}.period, ${at} AT TIME ZONE ${b}.timezone) AT TIME ZONE ${b}.timezone END AS window_start,
        CASE WHEN ${b}.period = 'total' THEN ${TOTAL_END}::timestamptz
             ELSE (date_trunc(${b}.period, ${at} AT TIME ZONE ${b}.timezone)
                   + CASE ${b}.period WHEN 'day' THEN interval '1 day' WHEN 'week' THEN interval '7 days' ELSE interval '1 month' END)
                  AT TIME ZONE ${b}.timezone END AS window_end`;

export interface WindowRef {
  windowStart: Date;
  windowEnd: Date;
}

/**
 * The window of a `period` in `timezone` holding `at`, by the same rule admission uses. Throws
 * (a database error) for an unknown zone.
 *
 * @example
 * await budgetWindowAt(store, 'day', 'Europe/Berlin', new Date('2026-03-29T12:00:00Z'))
 * // { windowStart: 2026-03-28T23:00:00Z, windowEnd: 2026-03-29T22:00:00Z } (a 23-hour day)
 */
export async function budgetWindowAt(ex: Executor, period: BudgetPeriod, timezone: string, at: Date): Promise<WindowRef> {
  const [row] = await ex.rows<{ start_ms: number; end_ms: number }>(sql`
    SELECT ${epochMs(sql.raw('w.window_start'))} AS start_ms, ${epochMs(sql.raw('w.window_end'))} AS end_ms
    FROM (SELECT ${windowBounds(sql`${at.toISOString()}::timestamptz`)}
          FROM (SELECT ${period}::text AS period, ${timezone}::text AS timezone) AS b) AS w`);
  return { windowStart: new Date(Number(row!.start_ms)), windowEnd: new Date(Number(row!.end_ms)) };
}

/** Whether Postgres knows an IANA zone name (the zone list the window rule uses). */
export async function isKnownTimeZone(ex: Executor, timezone: string): Promise<boolean> {
  const [row] = await ex.rows<{ known: boolean }>(sql`SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = ${timezone}) AS known`);
  return row?.known === true;
}
