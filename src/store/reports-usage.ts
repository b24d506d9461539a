import { type SQL, sql } from 'drizzle-orm';
import type { Executor } from './db';
import { epochMs } from './windows';

// Grouped usage for reports: from usage_rollup (per UTC quarter hour) when the range is whole
// quarter hours, which every local hour, day, week and month of every IANA zone is; from the ledger
// rows themselves otherwise. Both sources have the same columns, so one query serves both, and a
// report never depends on which one answered. Money leaves SQL as text (numeric sums) and becomes
// bigint picodollars; nothing is ever a float.

export type UsageColumn = { kind: 'team' | 'key' | 'model' | 'status' } | { kind: 'tag'; name: string };
export type UsageBucket = 'hour' | 'day' | 'week' | 'month' | 'none';

export interface UsageWhere {
  /** Team ids; null: keys in no team. */
  teams?: (string | null)[];
  keys?: string[];
  models?: string[];
  statuses?: string[];
  tags?: { name: string; values: (string | null)[] }[];
}

export interface UsageQuery {
  from: Date;
  to: Date;
  tz: string;
  bucket: UsageBucket;
  columns: readonly UsageColumn[];
  where: UsageWhere;
  /** The teams a limited reader may see (never usage in no team); null: all. */
  scopeTeams: readonly string[] | null;
  source: 'rollup' | 'ledger';
}

export interface Sums {
  requests: bigint;
  promptTokens: bigint;
  completionTokens: bigint;
  /** Picodollars. */
  cost: bigint;
}

export interface UsageGroup extends Sums {
  /** The bucket (clipped to the range), as instants and as local wall times in `tz`; null for bucket `none`. */
  bucket: { start: Date; end: Date; startLocal: string; endLocal: string } | null;
  /** One value per column: team '' becomes null (no team), an absent tag null (untagged). */
  values: (string | null)[];
}

/** Quarter hours: the rollup's grain. A range on it can be served from the rollup, exactly. */
export const QUARTER_HOUR_MS = 15 * 60_000;

export function isQuarterAligned(at: Date): boolean {
  return at.getTime() % QUARTER_HOUR_MS === 0;
}

interface Source {
  from: SQL;
  at: SQL;
  team: SQL;
  model: SQL;
  requests: SQL;
  cost: SQL;
  where: SQL[];
}

/** `usage_rollup r` or the final rows of `usage_events r`, with one set of column names. */
function sourceOf(query: Pick<UsageQuery, 'source' | 'from' | 'to'>): Source {
  const from = sql`${query.from.toISOString()}::timestamptz`;
  const to = sql`${query.to.toISOString()}::timestamptz`;
  if (query.source === 'rollup') {
    return {
      from: sql`usage_rollup r`,
      at: sql`r.bucket_start`,
      team: sql`r.team_id`,
      model: sql`r.model`,
      requests: sql`r.requests`,
      cost: sql`r.cost`,
      where: [sql`r.bucket_start >= ${from}`, sql`r.bucket_start < ${to}`],
    };
  }
  return {
    from: sql`usage_events r`,
    at: sql`r.started_at`,
    team: sql`coalesce(r.team_id, '')`,
    model: sql`coalesce(r.routed_model, r.requested_model)`,
    requests: sql`1`,
    cost: sql`r.billed_cost`,
    where: [
      sql`r.status <> 'pending'`,
      sql`r.started_at >= ${from}`,
      sql`r.started_at < ${to}`,
      // Lets the planner skip the month partitions outside the range.
      sql`r.started_month >= date_trunc('month', ${from} AT TIME ZONE 'UTC')::date`,
      sql`r.started_month <= date_trunc('month', ${to} AT TIME ZONE 'UTC')::date`,
    ],
  };
}

/** `expr IN (values)`, the values passed as one JSON array (both drivers bind it the same way). */
export function inList(expr: SQL, values: readonly string[]): SQL {
  return sql`${expr} IN (SELECT jsonb_array_elements_text(${JSON.stringify(values)}::jsonb))`;
}

function columnExpr(source: Source, column: UsageColumn): SQL {
  switch (column.kind) {
    case 'team':
      return source.team;
    case 'key':
      return sql`r.key_id`;
    case 'model':
      return source.model;
    case 'status':
      return sql`r.status`;
    case 'tag':
      return sql`r.tags->>${column.name}`;
  }
}

/** The WHERE conditions of filters and scope over `source`. */
function conditions(source: Source, where: UsageWhere, scopeTeams: readonly string[] | null): SQL[] {
  const out = [...source.where];
  if (scopeTeams) out.push(inList(source.team, scopeTeams));
  if (where.teams)
    out.push(
      inList(
        source.team,
        where.teams.map((team) => team ?? ''),
      ),
    );
  if (where.keys) out.push(inList(sql`r.key_id`, where.keys));
  if (where.models) out.push(inList(source.model, where.models));
  if (where.statuses) out.push(inList(sql`r.status`, where.statuses));
  for (const tag of where.tags ?? []) {
    const values = tag.values.filter((value): value is string => value !== null);
    const untagged = tag.values.length > values.length;
    const value = sql`r.tags->>${tag.name}`;
    out.push(sql`(${values.length > 0 ? inList(value, values) : sql`false`} OR ${untagged ? sql`${value} IS NULL` : sql`false`})`);
  }
  return out;
}

/** The start of the local bucket holding instant `at`, as an instant (hours are cut in instant space: a DST hour is never merged). */
function bucketStart(bucket: Exclude<UsageBucket, 'none'>, at: SQL, tz: SQL): SQL {
  if (bucket === 'hour')
    return sql`(date_trunc('minute', ${at}) - make_interval(mins => extract(minute FROM ${at} AT TIME ZONE ${tz})::int))`;
  return sql`(date_trunc(${bucket}, ${at} AT TIME ZONE ${tz}) AT TIME ZONE ${tz})`;
}

function bucketEnd(bucket: Exclude<UsageBucket, 'none'>, start: SQL, tz: SQL): SQL {
  if (bucket === 'hour') return sql`(${start} + interval '1 hour')`;
  return sql`((${start} AT TIME ZONE ${tz} + ${`1 ${bucket}`}::interval) AT TIME ZONE ${tz})`;
}

const localText = (at: SQL, tz: SQL) => sql`to_char(${at} AT TIME ZONE ${tz}, 'YYYY-MM-DD"T"HH24:MI:SS')`;

interface GroupRow extends Record<string, unknown> {
  start_ms: number | null;
  end_ms: number | null;
  start_local: string | null;
  end_local: string | null;
  requests: string;
  prompt_tokens: string;
  completion_tokens: string;
  cost: string;
  [value: `v${number}`]: string | null;
}

/**
 * Usage grouped by bucket (in `tz`) and `columns`, filtered and scoped; one row per group that
 * has usage. On the rollup, each quarter hour of the range is mapped to its local bucket once (a
 * small table joined by equality), not per rollup row.
 *
 * @example
 * await groupUsage(store, { from, to, tz: 'Asia/Kolkata', bucket: 'day', columns: [{ kind: 'team' }], where: {}, scopeTeams: null, source: 'rollup' })
 */
export async function groupUsage(ex: Executor, query: UsageQuery): Promise<UsageGroup[]> {
  const source = sourceOf(query);
  const tz = sql`${query.tz}::text`;
  const values = query.columns.map((column, i) => sql`${columnExpr(source, column)} AS ${sql.raw(`v${i}`)}`);
  const measures = sql`sum(${source.requests})::text AS requests, sum(r.prompt_tokens)::text AS prompt_tokens,
    sum(r.completion_tokens)::text AS completion_tokens, sum(${source.cost})::text AS cost`;
  const where = sql.join(conditions(source, query.where, query.scopeTeams), sql` AND `);
  const groupCount = query.columns.length;
  let statement: SQL;
  if (query.bucket === 'none') {
    // Ordinals: the four bucket columns come first.
    const groupBy = groupCount > 0 ? sql` GROUP BY ${sql.raw(query.columns.map((_, i) => i + 5).join(', '))}` : sql``;
    statement = sql`
      SELECT NULL::float8 AS start_ms, NULL::float8 AS end_ms, NULL::text AS start_local, NULL::text AS end_local,
        ${groupCount > 0 ? sql`${sql.join(values, sql`, `)},` : sql``} ${measures}
      FROM ${source.from} WHERE ${where}${groupBy}
      ${groupCount === 0 ? sql`HAVING count(*) > 0` : sql``}`;
  } else {
    const from = sql`${query.from.toISOString()}::timestamptz`;
    const to = sql`${query.to.toISOString()}::timestamptz`;
    const inner =
      query.source === 'rollup'
        ? sql`
          WITH quarters AS (
            SELECT q AS quarter, ${bucketStart(query.bucket, sql`q`, tz)} AS bucket
            FROM generate_series(${from}, ${to} - interval '15 minutes', interval '15 minutes') AS q
          )
          SELECT quarters.bucket, ${sql.join([...values, measures], sql`, `)}
          FROM ${source.from} JOIN quarters ON quarters.quarter = r.bucket_start
          WHERE ${where}
          GROUP BY ${sql.raw(Array.from({ length: groupCount + 1 }, (_, i) => i + 1).join(', '))}`
        : sql`
          SELECT ${bucketStart(query.bucket, source.at, tz)} AS bucket, ${sql.join([...values, measures], sql`, `)}
          FROM ${source.from} WHERE ${where}
          GROUP BY ${sql.raw(Array.from({ length: groupCount + 1 }, (_, i) => i + 1).join(', '))}`;
    const start = sql`greatest(g.bucket, ${from})`;
    const end = sql`least(${bucketEnd(query.bucket, sql`g.bucket`, tz)}, ${to})`;
    statement = sql`
      SELECT ${epochMs(start)} AS start_ms, ${epochMs(end)} AS end_ms, ${localText(start, tz)} AS start_local, ${localText(end, tz)} AS end_local,
        ${groupCount > 0 ? sql`${sql.raw(query.columns.map((_, i) => `g.v${i}`).join(', '))},` : sql``}
        g.requests, g.prompt_tokens, g.completion_tokens, g.cost
      FROM (${inner}) AS g`;
  }
  const rows = await ex.rows<GroupRow>(statement);
  return rows.map((row) => ({
    bucket:
      row.start_ms === null
        ? null
        : {
            start: new Date(Number(row.start_ms)),
            end: new Date(Number(row.end_ms)),
            startLocal: row.start_local!,
            endLocal: row.end_local!,
          },
    values: query.columns.map((column, i) => {
      const value = row[`v${i}`] ?? null;
      return column.kind === 'team' && value === '' ? null : value;
    }),
    requests: BigInt(row.requests ?? '0'),
    promptTokens: BigInt(row.prompt_tokens ?? '0'),
    completionTokens: BigInt(row.completion_tokens ?? '0'),
    cost: BigInt(row.cost ?? '0'),
  }));
}

/**
 * Instants of local dates (their midnight in `tz`) by the database's zone rules, the ones budget
 * windows use. Throws a database error for a zone it does not know.
 */
export async function localMidnights(ex: Executor, dates: readonly string[], tz: string): Promise<Date[]> {
  if (dates.length === 0) return [];
  const rows = await ex.rows<{ ms: number }>(sql`
    SELECT ${epochMs(sql`(d.day::timestamp AT TIME ZONE ${tz}::text)`)} AS ms
    FROM jsonb_array_elements_text(${JSON.stringify(dates)}::jsonb) WITH ORDINALITY AS d(day, n) ORDER BY d.n`);
  return rows.map((row) => new Date(Number(row.ms)));
}

const knownZones = new Set<string>(['UTC']);

/** Whether the database knows the zone (remembered: zone names do not come and go while it runs). */
export async function knownTimeZone(ex: Executor, tz: string): Promise<boolean> {
  if (knownZones.has(tz)) return true;
  const [row] = await ex.rows<{ known: boolean }>(sql`SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = ${tz}) AS known`);
  if (row?.known) knownZones.add(tz);
  return row?.known === true;
}

/** Key and team names for report rows. */
export async function reportNames(
  ex: Executor,
  keyIds: readonly string[],
): Promise<{ keys: Map<string, string>; teams: Map<string, { name: string; costCenter: string | null }> }> {
  const keys =
    keyIds.length === 0
      ? []
      : await ex.rows<{ id: string; name: string }>(sql`SELECT id, name FROM api_keys WHERE ${inList(sql`id`, keyIds)}`);
  const teams = await ex.rows<{ id: string; name: string; cost_center: string | null }>(sql`SELECT id, name, cost_center FROM teams`);
  return {
    keys: new Map(keys.map((row) => [row.id, row.name])),
    teams: new Map(teams.map((row) => [row.id, { name: row.name, costCenter: row.cost_center }])),
  };
}
