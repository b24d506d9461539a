import { type SQL, sql } from 'drizzle-orm';
import type { Executor } from './db';
import { inList, type UsageWhere } from './reports-usage';

// Ledger rows for the requests drill-down, a page at a time by keyset: (started_at, key_id,
// request_id) is unique and never changes once a row exists, and the usage_events_started_at_idx
// index holds it, so page 10,000 of a month costs what page 1 does. Only final rows that were
// final at `asOf` are listed, so paging through a busy month reads one fixed set.

/** Where a page ends: the sort key of its last row (started_at as the database's exact text). */
export interface RequestsCursor {
  startedAt: string;
  keyId: string;
  requestId: string;
}

export interface RequestsPageQuery {
  from: Date;
  to: Date;
  where: UsageWhere;
  scopeTeams: readonly string[] | null;
  order: 'asc' | 'desc';
  limit: number;
  after: RequestsCursor | null;
  /** Rows final at or before this instant (database text, microseconds). */
  asOf: string;
}

export interface LedgerRow {
  requestId: string;
  keyId: string;
  keyName: string | null;
  teamId: string | null;
  teamName: string | null;
  tags: Record<string, string>;
  endpoint: string;
  requestedModel: string;
  model: string;
  status: string;
  stream: boolean;
  promptTokens: bigint;
  completionTokens: bigint;
  cost: bigint;
  priceId: number | null;
  usageSource: string;
  usageNote: string | null;
  errorCode: string | null;
  latencyMs: number | null;
  ttftMs: number | null;
  admittedFailOpen: boolean;
  overLimit: boolean;
  startedAt: string;
  finishedAt: string | null;
  recordedAt: string | null;
  /** The cursor just after this row. */
  cursor: RequestsCursor;
}

const UTC_TEXT = (column: SQL) => sql`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** The database clock as exact text: the `asOf` of a first page. */
export async function ledgerNow(ex: Executor): Promise<string> {
  const [row] = await ex.rows<{ now: string }>(sql`SELECT ${UTC_TEXT(sql`clock_timestamp()`)} AS now`);
  return row!.now;
}

interface Row extends Record<string, unknown> {
  request_id: string;
  key_id: string;
  key_name: string | null;
  team_id: string | null;
  team_name: string | null;
  tags: Record<string, string> | string;
  endpoint: string;
  requested_model: string;
  model: string;
  status: string;
  stream: boolean;
  prompt_tokens: string;
  completion_tokens: string;
  billed_cost: string;
  price_id: number | null;
  usage_source: string;
  usage_note: string | null;
  error_code: string | null;
  latency_ms: number | null;
  ttft_ms: number | null;
  admitted_fail_open: boolean;
  over_limit: boolean;
  started_at: string;
  finished_at: string | null;
  recorded_at: string | null;
}

/**
 * Up to `limit` final ledger rows after the cursor, in (started_at, key_id, request_id) order.
 *
 * @example
 * const page = await pageRequests(store, { from, to, where: {}, scopeTeams: null, order: 'asc', limit: 100, after: null, asOf: await ledgerNow(store) });
 */
export async function pageRequests(ex: Executor, query: RequestsPageQuery): Promise<LedgerRow[]> {
  const from = sql`${query.from.toISOString()}::timestamptz`;
  const to = sql`${query.to.toISOString()}::timestamptz`;
  const team = sql`coalesce(e.team_id, '')`;
  const model = sql`coalesce(e.routed_model, e.requested_model)`;
  const where: SQL[] = [
    sql`e.status <> 'pending'`,
    sql`e.started_at >= ${from}`,
    sql`e.started_at < ${to}`,
    sql`e.started_month >= date_trunc('month', ${from} AT TIME ZONE 'UTC')::date`,
    sql`e.started_month <= date_trunc('month', ${to} AT TIME ZONE 'UTC')::date`,
    sql`(e.recorded_at IS NULL OR e.recorded_at <= ${query.asOf}::timestamptz)`,
  ];
  if (query.scopeTeams) where.push(inList(team, query.scopeTeams));
  const w = query.where;
  if (w.teams)
    where.push(
      inList(
        team,
        w.teams.map((id) => id ?? ''),
      ),
    );
  if (w.keys) where.push(inList(sql`e.key_id`, w.keys));
  if (w.models) where.push(inList(model, w.models));
  if (w.statuses) where.push(inList(sql`e.status`, w.statuses));
  for (const tag of w.tags ?? []) {
    const values = tag.values.filter((value): value is string => value !== null);
    const value = sql`e.tags->>${tag.name}`;
    const untagged = values.length < tag.values.length;
    where.push(sql`(${values.length > 0 ? inList(value, values) : sql`false`} OR ${untagged ? sql`${value} IS NULL` : sql`false`})`);
  }
  const direction = sql.raw(query.order === 'asc' ? 'ASC' : 'DESC');
  if (query.after) {
    const after = query.after;
    const tuple = sql`(${after.startedAt}::timestamptz, ${after.keyId}::text, ${after.requestId}::text)`;
    where.push(
      query.order === 'asc'
        ? sql`(e.started_at, e.key_id, e.request_id) > ${tuple}`
        : sql`(e.started_at, e.key_id, e.request_id) < ${tuple}`,
    );
  }
  const rows = await ex.rows<Row>(sql`
    SELECT e.request_id, e.key_id, k.name AS key_name, e.team_id, t.name AS team_name, e.tags, e.endpoint, e.requested_model,
      ${model} AS model, e.status, e.stream, e.prompt_tokens::text AS prompt_tokens, e.completion_tokens::text AS completion_tokens,
      e.billed_cost::text AS billed_cost, e.price_id, e.usage_source, e.usage_note, e.error_code, e.latency_ms, e.ttft_ms,
      e.admitted_fail_open, e.over_limit, ${UTC_TEXT(sql`e.started_at`)} AS started_at,
      ${UTC_TEXT(sql`e.finished_at`)} AS finished_at, ${UTC_TEXT(sql`e.recorded_at`)} AS recorded_at
    FROM (
      SELECT * FROM usage_events e WHERE ${sql.join(where, sql` AND `)}
      ORDER BY e.started_at ${direction}, e.key_id ${direction}, e.request_id ${direction}
      LIMIT ${query.limit}::int
    ) AS e
    LEFT JOIN api_keys k ON k.id = e.key_id
    LEFT JOIN teams t ON t.id = e.team_id
    ORDER BY e.started_at ${direction}, e.key_id ${direction}, e.request_id ${direction}`);
  return rows.map((row) => ({
    requestId: row.request_id,
    keyId: row.key_id,
    keyName: row.key_name,
    teamId: row.team_id,
    teamName: row.team_name,
    tags: typeof row.tags === 'string' ? (JSON.parse(row.tags) as Record<string, string>) : row.tags,
    endpoint: row.endpoint,
    requestedModel: row.requested_model,
    model: row.model,
    status: row.status,
    stream: row.stream,
    promptTokens: BigInt(row.prompt_tokens),
    completionTokens: BigInt(row.completion_tokens),
    cost: BigInt(row.billed_cost),
    priceId: row.price_id,
    usageSource: row.usage_source,
    usageNote: row.usage_note,
    errorCode: row.error_code,
    latencyMs: row.latency_ms,
    ttftMs: row.ttft_ms,
    admittedFailOpen: row.admitted_fail_open,
    overLimit: row.over_limit,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    recordedAt: row.recorded_at,
    cursor: { startedAt: row.started_at, keyId: row.key_id, requestId: row.request_id },
  }));
}
