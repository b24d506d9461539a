import { sql } from 'drizzle-orm';
import type { Executor } from './db';
import { inList, type Sums } from './reports-usage';
import type { StatementLineKind } from './schema';
import { epochMs } from './windows';

// Closed periods and their statements. What a period's statements booked is kept line by line
// (statement_lines), so late usage of a closed period is exact arithmetic: the rollup of that
// period now, minus everything booked for it so far. It needs no timestamp and no lock against
// settles: a row committed after a close is simply not booked yet, and the next close books it.

export interface PeriodRecord {
  period: string;
  timezone: string;
  periodStart: Date;
  periodEnd: Date;
  closedAt: Date;
  closedBy: string;
}

/** Usage per team, key and model: a statement line before it has a number. */
export interface UsageLine extends Sums {
  /** The period the usage belongs to. */
  usagePeriod: string;
  /** '' for keys in no team. */
  teamId: string;
  keyId: string;
  model: string;
}

export interface StatementLineRecord extends UsageLine {
  lineNo: number;
  kind: StatementLineKind;
}

export interface StatementRecord {
  id: string;
  period: string;
  teamId: string;
  currency: string;
  totals: Sums;
  generatedAt: Date;
  content: Record<string, unknown>;
  contentHash: string;
}

/** Serializes period closes (and the reads that decide them) across instances. */
export async function lockPeriods(tx: Executor): Promise<void> {
  await tx.rows(sql`SELECT pg_advisory_xact_lock(hashtext('tollgate:period_close'))`);
}

interface PeriodRow extends Record<string, unknown> {
  period: string;
  timezone: string;
  start_ms: number;
  end_ms: number;
  closed_ms: number;
  closed_by: string;
}

const periodOf = (row: PeriodRow): PeriodRecord => ({
  period: row.period,
  timezone: row.timezone,
  periodStart: new Date(Number(row.start_ms)),
  periodEnd: new Date(Number(row.end_ms)),
  closedAt: new Date(Number(row.closed_ms)),
  closedBy: row.closed_by,
});

/** Closed periods, oldest first. */
export async function listPeriods(ex: Executor): Promise<PeriodRecord[]> {
  const rows = await ex.rows<PeriodRow>(sql`
    SELECT period, timezone, ${epochMs(sql`period_start`)} AS start_ms, ${epochMs(sql`period_end`)} AS end_ms,
      ${epochMs(sql`closed_at`)} AS closed_ms, closed_by
    FROM report_periods ORDER BY period`);
  return rows.map(periodOf);
}

/** The month `yyyy-mm` in `tz` as instants: [its first midnight, the next month's). */
export async function monthBounds(ex: Executor, period: string, tz: string): Promise<{ start: Date; end: Date }> {
  const [row] = await ex.rows<{ start_ms: number; end_ms: number }>(sql`
    SELECT ${epochMs(sql`(${`${period}-01`}::timestamp AT TIME ZONE ${tz}::text)`)} AS start_ms,
      ${epochMs(sql`((${`${period}-01`}::timestamp + interval '1 month') AT TIME ZONE ${tz}::text)`)} AS end_ms`);
  return { start: new Date(Number(row!.start_ms)), end: new Date(Number(row!.end_ms)) };
}

/** Records the close; `closedAt` is the database's clock. */
export async function insertPeriod(tx: Executor, period: Omit<PeriodRecord, 'closedAt'>): Promise<PeriodRecord> {
  const [row] = await tx.rows<PeriodRow>(sql`
    INSERT INTO report_periods (period, timezone, period_start, period_end, closed_by)
    VALUES (${period.period}, ${period.timezone}, ${period.periodStart.toISOString()}::timestamptz, ${period.periodEnd.toISOString()}::timestamptz, ${period.closedBy})
    RETURNING period, timezone, ${epochMs(sql`period_start`)} AS start_ms, ${epochMs(sql`period_end`)} AS end_ms,
      ${epochMs(sql`closed_at`)} AS closed_ms, closed_by`);
  return periodOf(row!);
}

interface LineRow extends Record<string, unknown> {
  usage_period: string;
  team_id: string;
  key_id: string;
  model: string;
  requests: string;
  prompt: string;
  completion: string;
  cost: string;
}

const lineOf = (row: LineRow): UsageLine => ({
  usagePeriod: row.usage_period,
  teamId: row.team_id,
  keyId: row.key_id,
  model: row.model,
  requests: BigInt(row.requests),
  promptTokens: BigInt(row.prompt),
  completionTokens: BigInt(row.completion),
  cost: BigInt(row.cost),
});

/** A period's usage per team, key and model, from the rollup (its bounds are whole quarter hours). */
export async function periodUsage(ex: Executor, period: string, start: Date, end: Date): Promise<UsageLine[]> {
  const rows = await ex.rows<LineRow>(sql`
    SELECT ${period}::text AS usage_period, team_id, key_id, model, sum(requests)::text AS requests, sum(prompt_tokens)::text AS prompt,
      sum(completion_tokens)::text AS completion, sum(cost)::text AS cost
    FROM usage_rollup WHERE bucket_start >= ${start.toISOString()}::timestamptz AND bucket_start < ${end.toISOString()}::timestamptz
    GROUP BY team_id, key_id, model ORDER BY team_id, key_id, model`);
  return rows.map(lineOf);
}

/**
 * Usage of closed periods not yet on any statement: per period, team, key and model, the rollup
 * now minus every line booked for that period (its own statement's and earlier adjustments).
 * `periods` limits it to some closed periods (default: all).
 */
export async function unbookedUsage(ex: Executor, periods?: readonly string[]): Promise<UsageLine[]> {
  const which = periods ? inList(sql`period`, periods) : sql`true`;
  const rows = await ex.rows<LineRow>(sql`
    WITH closed AS (SELECT period, period_start, period_end FROM report_periods WHERE ${which}),
    now_ AS (
      SELECT c.period, r.team_id, r.key_id, r.model, sum(r.requests) AS requests, sum(r.prompt_tokens) AS prompt,
        sum(r.completion_tokens) AS completion, sum(r.cost) AS cost
      FROM closed c JOIN usage_rollup r ON r.bucket_start >= c.period_start AND r.bucket_start < c.period_end
      GROUP BY 1, 2, 3, 4
    ),
    booked AS (
      SELECT usage_period AS period, team_id, key_id, model, sum(requests) AS requests, sum(prompt_tokens) AS prompt,
        sum(completion_tokens) AS completion, sum(cost) AS cost
      FROM statement_lines WHERE usage_period IN (SELECT period FROM closed)
      GROUP BY 1, 2, 3, 4
    )
    SELECT coalesce(n.period, b.period) AS usage_period, coalesce(n.team_id, b.team_id) AS team_id,
      coalesce(n.key_id, b.key_id) AS key_id, coalesce(n.model, b.model) AS model,
      (coalesce(n.requests, 0) - coalesce(b.requests, 0))::text AS requests, (coalesce(n.prompt, 0) - coalesce(b.prompt, 0))::text AS prompt,
      (coalesce(n.completion, 0) - coalesce(b.completion, 0))::text AS completion, (coalesce(n.cost, 0) - coalesce(b.cost, 0))::text AS cost
    FROM now_ n FULL JOIN booked b ON b.period = n.period AND b.team_id = n.team_id AND b.key_id = n.key_id AND b.model = n.model
    WHERE coalesce(n.requests, 0) <> coalesce(b.requests, 0) OR coalesce(n.prompt, 0) <> coalesce(b.prompt, 0)
      OR coalesce(n.completion, 0) <> coalesce(b.completion, 0) OR coalesce(n.cost, 0) <> coalesce(b.cost, 0)
    ORDER BY 1, 2, 3, 4`);
  return rows.map(lineOf);
}

/** Writes an issued statement and its lines (both append-only from then on). */
export async function insertStatement(tx: Executor, statement: StatementRecord, lines: readonly StatementLineRecord[]): Promise<void> {
  await tx.rows(sql`
    INSERT INTO statements (id, period, team_id, currency, requests, prompt_tokens, completion_tokens, cost, generated_at, content, content_hash)
    VALUES (${statement.id}, ${statement.period}, ${statement.teamId}, ${statement.currency}, ${statement.totals.requests.toString()}::bigint,
      ${statement.totals.promptTokens.toString()}::bigint, ${statement.totals.completionTokens.toString()}::bigint,
      ${statement.totals.cost.toString()}::numeric, ${statement.generatedAt.toISOString()}::timestamptz,
      ${JSON.stringify(statement.content)}::jsonb, ${statement.contentHash})`);
  if (lines.length === 0) return;
  const input = lines.map((line) => ({
    line_no: line.lineNo,
    kind: line.kind,
    usage_period: line.usagePeriod,
    team_id: line.teamId,
    key_id: line.keyId,
    model: line.model,
    requests: line.requests.toString(),
    prompt_tokens: line.promptTokens.toString(),
    completion_tokens: line.completionTokens.toString(),
    cost: line.cost.toString(),
  }));
  await tx.rows(sql`
    INSERT INTO statement_lines (statement_id, line_no, kind, usage_period, team_id, key_id, model, requests, prompt_tokens, completion_tokens, cost)
    SELECT ${statement.id}, l.line_no, l.kind, l.usage_period, l.team_id, l.key_id, l.model, l.requests, l.prompt_tokens, l.completion_tokens, l.cost
    FROM jsonb_to_recordset(${JSON.stringify(input)}::jsonb) AS l(line_no int, kind text, usage_period text, team_id text, key_id text,
      model text, requests bigint, prompt_tokens bigint, completion_tokens bigint, cost numeric)`);
}

interface StatementRow extends Record<string, unknown> {
  id: string;
  period: string;
  team_id: string;
  currency: string;
  requests: string;
  prompt_tokens: string;
  completion_tokens: string;
  cost: string;
  generated_ms: number;
  content: Record<string, unknown> | string;
  content_hash: string;
}

const statementOf = (row: StatementRow): StatementRecord => ({
  id: row.id,
  period: row.period,
  teamId: row.team_id,
  currency: row.currency,
  totals: {
    requests: BigInt(row.requests),
    promptTokens: BigInt(row.prompt_tokens),
    completionTokens: BigInt(row.completion_tokens),
    cost: BigInt(row.cost),
  },
  generatedAt: new Date(Number(row.generated_ms)),
  content: typeof row.content === 'string' ? (JSON.parse(row.content) as Record<string, unknown>) : row.content,
  contentHash: row.content_hash,
});

const STATEMENT_COLUMNS = sql`id, period, team_id, currency, requests::text, prompt_tokens::text, completion_tokens::text, cost::text,
  ${epochMs(sql`generated_at`)} AS generated_ms, content, content_hash`;

/** One statement; null when absent or outside `scopeTeams`. */
export async function getStatement(ex: Executor, id: string, scopeTeams: readonly string[] | null): Promise<StatementRecord | null> {
  const scope = scopeTeams ? inList(sql`team_id`, scopeTeams) : sql`true`;
  const [row] = await ex.rows<StatementRow>(sql`SELECT ${STATEMENT_COLUMNS} FROM statements WHERE id = ${id} AND ${scope}`);
  return row ? statementOf(row) : null;
}

/** Statements, newest period first, optionally of one period or team, within `scopeTeams`. */
export async function listStatements(
  ex: Executor,
  filter: { period?: string; teams?: string[]; scopeTeams: readonly string[] | null },
): Promise<StatementRecord[]> {
  const where = [filter.scopeTeams ? inList(sql`team_id`, filter.scopeTeams) : sql`true`];
  if (filter.period) where.push(sql`period = ${filter.period}`);
  if (filter.teams) where.push(inList(sql`team_id`, filter.teams));
  const rows = await ex.rows<StatementRow>(sql`
    SELECT ${STATEMENT_COLUMNS} FROM statements WHERE ${sql.join(where, sql` AND `)} ORDER BY period DESC, team_id`);
  return rows.map(statementOf);
}

/** Booked lines per closed period, for the tie-out: what statements say each period cost. */
export async function bookedTotals(ex: Executor): Promise<Map<string, Sums>> {
  const rows = await ex.rows<LineRow>(sql`
    SELECT usage_period, '' AS team_id, '' AS key_id, '' AS model, sum(requests)::text AS requests, sum(prompt_tokens)::text AS prompt,
      sum(completion_tokens)::text AS completion, sum(cost)::text AS cost
    FROM statement_lines GROUP BY usage_period`);
  return new Map(rows.map((row) => [row.usage_period, lineOf(row)]));
}
