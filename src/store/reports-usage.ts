import { type SQL, sql } from 'drizzle-orm';
import type { Executor, Store } from './db';
import { type CompactedSegment, compactedSource } from './reports-compact';
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

/**
 * Where usage is read from. `ledger`: the final rows of [from, to). `rollup`: the quarter-hour
 * rollup over `ranges`, plus compacted segments (whole local days or hours) with their rows
 * recorded since compaction; `segmentUnit` is their unit, when a segment is exactly one bucket.
 */
export type UsagePlan =
  | { kind: 'ledger'; from: Date; to: Date }
  | {
      kind: 'rollup';
      ranges: readonly { start: Date; end: Date }[];
      compacted: readonly CompactedSegment[];
      segmentUnit: 'day' | 'hour' | null;
    };

export interface UsageQuery {
  /** The range, for clipping buckets. */
  from: Date;
  to: Date;
  tz: string;
  bucket: UsageBucket;
  columns: readonly UsageColumn[];
  where: UsageWhere;
  /** The teams a limited reader may see (never usage in no team); null: all. */
  scopeTeams: readonly string[] | null;
  plan: UsagePlan;
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

const iso = (at: Date) => sql`${at.toISOString()}::timestamptz`;

/** The columns every part of a plan gives: at, team_id ('' for none), key_id, model, status, tags and the four sums. */
function planParts(plan: UsagePlan): { rows: SQL; atIsBucket: boolean }[] {
  if (plan.kind === 'ledger') {
    return [
      {
        atIsBucket: false,
        rows: sql`SELECT started_at AS at, coalesce(team_id, '') AS team_id, key_id, coalesce(routed_model, requested_model) AS model,
          status, tags, 1::bigint AS requests, prompt_tokens, completion_tokens, billed_cost::numeric AS cost
          FROM usage_events
          WHERE status <> 'pending' AND started_at >= ${iso(plan.from)} AND started_at < ${iso(plan.to)}
            -- Lets the planner skip the month partitions outside the range.
            AND started_month >= date_trunc('month', ${iso(plan.from)} AT TIME ZONE 'UTC')::date
            AND started_month <= date_trunc('month', ${iso(plan.to)} AT TIME ZONE 'UTC')::date`,
      },
    ];
  }
  const parts: { rows: SQL; atIsBucket: boolean }[] = [];
  if (plan.ranges.length > 0) {
    const ranges = sql.join(
      plan.ranges.map((r) => sql`(bucket_start >= ${iso(r.start)} AND bucket_start < ${iso(r.end)})`),
      sql` OR `,
    );
    parts.push({
      atIsBucket: false,
      rows: sql`SELECT bucket_start AS at, team_id, key_id, model, status, tags, requests, prompt_tokens, completion_tokens, cost
        FROM usage_rollup WHERE ${ranges}`,
    });
  }
  if (plan.compacted.length > 0)
    parts.push({ atIsBucket: plan.segmentUnit !== null, rows: sql`SELECT * FROM ${compactedSource(plan.compacted)} AS c` });
  return parts;
}

/** `expr IN (values)`, the values passed as one JSON array (both drivers bind it the same way). */
export function inList(expr: SQL, values: readonly string[]): SQL {
  return sql`${expr} IN (SELECT jsonb_array_elements_text(${JSON.stringify(values)}::jsonb))`;
}

function columnExpr(column: UsageColumn): SQL {
  if (column.kind === 'tag') return sql`r.tags->>${column.name}`;
  return sql.raw({ team: 'r.team_id', key: 'r.key_id', model: 'r.model', status: 'r.status' }[column.kind]);
}

/** The WHERE conditions of filters and scope, over a part's columns. */
function conditions(where: UsageWhere, scopeTeams: readonly string[] | null): SQL[] {
  const out: SQL[] = [sql`true`];
  if (scopeTeams) out.push(inList(sql`r.team_id`, scopeTeams));
  if (where.teams)
    out.push(
      inList(
        sql`r.team_id`,
        where.teams.map((team) => team ?? ''),
      ),
    );
  if (where.keys) out.push(inList(sql`r.key_id`, where.keys));
  if (where.models) out.push(inList(sql`r.model`, where.models));
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
 * has usage. Each part of the plan is grouped on its own (a compacted segment that is one bucket
 * needs no time-zone arithmetic per row), then the parts are added up.
 *
 * @example
 * await groupUsage(store, { from, to, tz: 'Asia/Kolkata', bucket: 'day', columns: [{ kind: 'team' }], where: {}, scopeTeams: null, plan })
 */
export async function groupUsage(ex: Executor, query: UsageQuery): Promise<UsageGroup[]> {
  const tz = sql`${query.tz}::text`;
  const where = sql.join(conditions(query.where, query.scopeTeams), sql` AND `);
  const count = query.columns.length;
  const names = query.columns.map((_, i) => `v${i}`);
  const values = query.columns.map((column, i) => sql`${columnExpr(column)} AS ${sql.raw(names[i]!)}`);
  const bucketed = query.bucket !== 'none';
  const groupBy = sql.raw(Array.from({ length: count + (bucketed ? 1 : 0) }, (_, i) => i + 1).join(', ') || '()');
  const grouped = planParts(query.plan).map(({ rows, atIsBucket }) => {
    const bucket = !bucketed ? null : atIsBucket ? sql`r.at` : bucketStart(query.bucket as Exclude<UsageBucket, 'none'>, sql`r.at`, tz);
    return sql`
      SELECT ${sql.join([...(bucket ? [sql`${bucket} AS bucket`] : []), ...values], sql`, `)}${count > 0 || bucket ? sql`,` : sql``}
        sum(r.requests) AS requests, sum(r.prompt_tokens) AS prompt_tokens, sum(r.completion_tokens) AS completion_tokens, sum(r.cost) AS cost
      FROM (${rows}) AS r WHERE ${where} GROUP BY ${groupBy}`;
  });
  if (grouped.length === 0) return [];
  const keys = [...(bucketed ? ['bucket'] : []), ...names].map((name) => `p.${name}`).join(', ');
  const inner = sql`
    SELECT ${sql.raw(keys ? `${keys},` : '')} sum(p.requests)::text AS requests, sum(p.prompt_tokens)::text AS prompt_tokens,
      sum(p.completion_tokens)::text AS completion_tokens, sum(p.cost)::text AS cost
    FROM (${sql.join(grouped, sql` UNION ALL `)}) AS p
    ${sql.raw(keys ? `GROUP BY ${keys}` : '')} HAVING sum(p.requests) IS NOT NULL AND sum(p.requests) <> 0`;
  let statement: SQL;
  if (!bucketed) {
    statement = sql`
      SELECT NULL::float8 AS start_ms, NULL::float8 AS end_ms, NULL::text AS start_local, NULL::text AS end_local, g.*
      FROM (${inner}) AS g`;
  } else {
    const start = sql`greatest(g.bucket, ${iso(query.from)})`;
    const end = sql`least(${bucketEnd(query.bucket as Exclude<UsageBucket, 'none'>, sql`g.bucket`, tz)}, ${iso(query.to)})`;
    statement = sql`
      SELECT ${epochMs(start)} AS start_ms, ${epochMs(end)} AS end_ms, ${localText(start, tz)} AS start_local, ${localText(end, tz)} AS end_local, g.*
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

/**
 * Runs report reads with no JIT (it compiles for longer than these queries run: range joins make
 * the planner's row estimates far too high) and room to hash a month of groups. Given the store,
 * in a transaction of their own; given a transaction, for the rest of it.
 */
export async function reportReads<T>(ex: Executor, body: (ex: Executor) => Promise<T>): Promise<T> {
  const settings = sql`SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)`;
  if ('transaction' in ex) {
    return (ex as Store).transaction(async (tx) => {
      await tx.rows(settings);
      return body(tx);
    });
  }
  await ex.rows(settings);
  return body(ex);
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

/**
 * Every bucket of [from, to) in `tz`, clipped to the range, by the same rule as `groupUsage`: a
 * chart's time axis, with the buckets that had no usage. `bucket` must not be `none`.
 *
 * @example await localBuckets(store, from, to, 'America/New_York', 'day') // 30 or 31 days, a DST day 23 or 25 hours long
 */
export async function localBuckets(
  ex: Executor,
  from: Date,
  to: Date,
  tz: string,
  bucket: Exclude<UsageBucket, 'none'>,
): Promise<{ start: Date; end: Date; startLocal: string; endLocal: string }[]> {
  const zone = sql`${tz}::text`;
  const first = bucketStart(bucket, iso(from), zone);
  // Hours step in instant space (a DST hour is its own bucket); days, weeks and months in local time.
  const series =
    bucket === 'hour'
      ? sql`SELECT s AS b FROM generate_series(${first}, ${iso(to)}, interval '1 hour') AS s`
      : sql`SELECT s AT TIME ZONE ${zone} AS b
          FROM generate_series(${first} AT TIME ZONE ${zone}, ${iso(to)} AT TIME ZONE ${zone}, ${`1 ${bucket}`}::interval) AS s`;
  const start = sql`greatest(g.b, ${iso(from)})`;
  const end = sql`least(${bucketEnd(bucket, sql`g.b`, zone)}, ${iso(to)})`;
  const rows = await ex.rows<{ start_ms: number; end_ms: number; start_local: string; end_local: string }>(sql`
    SELECT ${epochMs(start)} AS start_ms, ${epochMs(end)} AS end_ms, ${localText(start, zone)} AS start_local, ${localText(end, zone)} AS end_local
    FROM (${series}) AS g WHERE g.b < ${iso(to)} ORDER BY g.b`);
  return rows.map((row) => ({
    start: new Date(Number(row.start_ms)),
    end: new Date(Number(row.end_ms)),
    startLocal: row.start_local,
    endLocal: row.end_local,
  }));
}
