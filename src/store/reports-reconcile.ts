import { type SQL, sql } from 'drizzle-orm';
import type { Executor } from './db';
import type { Sums } from './reports-usage';
import { epochMs } from './windows';

// The tie-out queries: the ledger's final rows against the quarter-hour rollup, group by group,
// and against the budget windows' counters, window by window. Each difference comes with the
// request ids behind it, so finance can see which rows disagree, not only that some do.

const ROWS_PER_DIFFERENCE = 20;
const MAX_DIFFERENCES = 200;

export interface RollupDifference {
  bucketStart: Date;
  teamId: string | null;
  keyId: string;
  model: string;
  status: string;
  tags: Record<string, string>;
  ledger: Sums;
  rollup: Sums;
  requestIds: string[];
}

export interface WindowDifference {
  keyId: string;
  windowStart: Date;
  windowEnd: Date;
  counter: { spentCost: bigint; reservedCost: bigint; spentTokens: bigint; reservedTokens: bigint };
  ledger: { spentCost: bigint; reservedCost: bigint; spentTokens: bigint; reservedTokens: bigint };
  requestIds: string[];
}

const sums = (row: Record<string, unknown>, prefix: string): Sums => ({
  requests: BigInt((row[`${prefix}requests`] as string | null) ?? '0'),
  promptTokens: BigInt((row[`${prefix}prompt`] as string | null) ?? '0'),
  completionTokens: BigInt((row[`${prefix}completion`] as string | null) ?? '0'),
  cost: BigInt((row[`${prefix}cost`] as string | null) ?? '0'),
});

const parseTags = (value: unknown): Record<string, string> =>
  (typeof value === 'string' ? JSON.parse(value) : (value ?? {})) as Record<string, string>;

const parseIds = (value: unknown): string[] => (typeof value === 'string' ? JSON.parse(value) : (value ?? [])) as string[];

/** Totals of the ledger's final rows and of the rollup over quarter-aligned [from, to). */
export async function sourceTotals(ex: Executor, from: Date, to: Date): Promise<{ ledger: Sums; rollup: Sums }> {
  const f = from.toISOString();
  const t = to.toISOString();
  const [row] = await ex.rows<Record<string, string | null>>(sql`
    SELECT l.requests AS l_requests, l.prompt AS l_prompt, l.completion AS l_completion, l.cost AS l_cost,
      r.requests AS r_requests, r.prompt AS r_prompt, r.completion AS r_completion, r.cost AS r_cost
    FROM (
      SELECT count(*)::text AS requests, coalesce(sum(prompt_tokens), 0)::text AS prompt,
        coalesce(sum(completion_tokens), 0)::text AS completion, coalesce(sum(billed_cost), 0)::text AS cost
      FROM usage_events
      WHERE status <> 'pending' AND started_at >= ${f}::timestamptz AND started_at < ${t}::timestamptz
        AND started_month >= date_trunc('month', ${f}::timestamptz AT TIME ZONE 'UTC')::date
        AND started_month <= date_trunc('month', ${t}::timestamptz AT TIME ZONE 'UTC')::date
    ) AS l, (
      SELECT coalesce(sum(requests), 0)::text AS requests, coalesce(sum(prompt_tokens), 0)::text AS prompt,
        coalesce(sum(completion_tokens), 0)::text AS completion, coalesce(sum(cost), 0)::text AS cost
      FROM usage_rollup WHERE bucket_start >= ${f}::timestamptz AND bucket_start < ${t}::timestamptz
    ) AS r`);
  return { ledger: sums(row!, 'l_'), rollup: sums(row!, 'r_') };
}

/**
 * A group's fingerprint: a 64-bit hash of (team, key, model, status, tag set). Summed weighted by
 * requests, cost and tokens per quarter hour, it differs between two sides unless they hold the
 * same groups with the same sums (up to a 64-bit collision), so only quarter hours that differ
 * need the group-by-group comparison.
 */
const fingerprint = (team: SQL, model: SQL) =>
  sql`(hashtextextended(${team} || '|' || key_id || '|' || ${model} || '|' || status, 0) # jsonb_hash_extended(tags, 0))::numeric`;

const fingerprintSums = (n: SQL, p: SQL, c: SQL, cost: SQL) => sql`
  sum(${n}) AS n, sum(${p}) AS p, sum(${c}) AS c, sum(${cost}) AS cost,
  sum(g * ${n}) AS hn, sum(g * ${p}) AS hp, sum(g * ${c}) AS hc, sum(g * ${cost}) AS hcost`;

const differs = (a: string, b: string) =>
  sql.raw(['n', 'p', 'c', 'cost', 'hn', 'hp', 'hc', 'hcost'].map((x) => `${a}.${x} IS DISTINCT FROM ${b}.${x}`).join(' OR '));

/** Quarter hours of [from, to) whose fingerprints differ between the ledger's final rows and the rollup. */
async function suspectQuarters(ex: Executor, f: string, t: string): Promise<string[]> {
  const rows = await ex.rows<{ b: string }>(sql`
    WITH l AS (
      SELECT date_bin('15 minutes', started_at, '2000-01-01T00:00:00Z'::timestamptz) AS b,
        ${fingerprintSums(sql`1`, sql`prompt_tokens`, sql`completion_tokens`, sql`billed_cost`)}
      FROM (
        SELECT *, ${fingerprint(sql`coalesce(team_id, '')`, sql`coalesce(routed_model, requested_model)`)} AS g FROM usage_events
        WHERE status <> 'pending' AND started_at >= ${f}::timestamptz AND started_at < ${t}::timestamptz
          AND started_month >= date_trunc('month', ${f}::timestamptz AT TIME ZONE 'UTC')::date
          AND started_month <= date_trunc('month', ${t}::timestamptz AT TIME ZONE 'UTC')::date
      ) AS e GROUP BY 1
    ),
    r AS (
      SELECT bucket_start AS b, ${fingerprintSums(sql`requests`, sql`prompt_tokens`, sql`completion_tokens`, sql`cost`)}
      FROM (SELECT *, ${fingerprint(sql`team_id`, sql`model`)} AS g FROM usage_rollup
            WHERE bucket_start >= ${f}::timestamptz AND bucket_start < ${t}::timestamptz) AS r
      GROUP BY 1
    )
    SELECT to_char(coalesce(l.b, r.b) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS b
    FROM l FULL JOIN r ON l.b = r.b WHERE ${differs('l', 'r')}
    ORDER BY 1 LIMIT ${MAX_DIFFERENCES}`);
  return rows.map((row) => row.b);
}

/** Quarter hours of [from, to) where the rollup and the ledger's final rows disagree, per group. */
export async function rollupDifferences(ex: Executor, from: Date, to: Date): Promise<RollupDifference[]> {
  const quarters = await suspectQuarters(ex, from.toISOString(), to.toISOString());
  if (quarters.length === 0) return [];
  const list = sql`(SELECT q::timestamptz AS b FROM jsonb_array_elements_text(${JSON.stringify(quarters)}::jsonb) AS q)`;
  const rows = await ex.rows<Record<string, unknown>>(sql`
    WITH q AS ${list},
    l AS (
      SELECT q.b, coalesce(e.team_id, '') AS team_id, e.key_id,
        coalesce(e.routed_model, e.requested_model) AS model, e.status, e.tags,
        count(*) AS requests, sum(e.prompt_tokens) AS prompt, sum(e.completion_tokens) AS completion, sum(e.billed_cost) AS cost
      FROM q JOIN usage_events e ON e.started_at >= q.b AND e.started_at < q.b + interval '15 minutes'
      WHERE e.status <> 'pending'
      GROUP BY 1, 2, 3, 4, 5, 6
    ),
    r AS (
      SELECT bucket_start AS b, team_id, key_id, model, status, tags, requests, prompt_tokens AS prompt, completion_tokens AS completion, cost
      FROM usage_rollup WHERE bucket_start IN (SELECT b FROM q)
    ),
    d AS (
      SELECT coalesce(l.b, r.b) AS b, coalesce(l.team_id, r.team_id) AS team_id, coalesce(l.key_id, r.key_id) AS key_id,
        coalesce(l.model, r.model) AS model, coalesce(l.status, r.status) AS status, coalesce(l.tags, r.tags) AS tags,
        l.requests::text AS l_requests, l.prompt::text AS l_prompt, l.completion::text AS l_completion, l.cost::text AS l_cost,
        r.requests::text AS r_requests, r.prompt::text AS r_prompt, r.completion::text AS r_completion, r.cost::text AS r_cost
      FROM l FULL JOIN r ON l.b = r.b AND l.team_id = r.team_id AND l.key_id = r.key_id AND l.model = r.model
        AND l.status = r.status AND l.tags = r.tags
      WHERE l.requests IS DISTINCT FROM r.requests OR l.prompt IS DISTINCT FROM r.prompt
        OR l.completion IS DISTINCT FROM r.completion OR l.cost IS DISTINCT FROM r.cost
      ORDER BY 1, 3, 4, 5
      LIMIT ${MAX_DIFFERENCES}
    )
    SELECT d.*, ${epochMs(sql`d.b`)} AS b_ms, (
      SELECT coalesce(json_agg(x.request_id), '[]'::json) FROM (
        SELECT e.request_id FROM usage_events e
        WHERE e.key_id = d.key_id AND e.started_at >= d.b AND e.started_at < d.b + interval '15 minutes'
          AND e.status = d.status AND coalesce(e.routed_model, e.requested_model) = d.model AND e.tags = d.tags
          AND coalesce(e.team_id, '') = d.team_id
        ORDER BY e.started_at, e.request_id LIMIT ${ROWS_PER_DIFFERENCE}
      ) AS x
    ) AS request_ids
    FROM d ORDER BY d.b, d.key_id, d.model, d.status`);
  return rows.map((row) => ({
    bucketStart: new Date(Number(row.b_ms)),
    teamId: row.team_id === '' ? null : (row.team_id as string),
    keyId: row.key_id as string,
    model: row.model as string,
    status: row.status as string,
    tags: parseTags(row.tags),
    ledger: sums(row, 'l_'),
    rollup: sums(row, 'r_'),
    requestIds: parseIds(row.request_ids),
  }));
}

/**
 * Budget windows starting in [from, to) whose counters differ from their rows: spent = billed cost
 * and tokens of final rows, reserved = the reservations of rows still pending and the instances'
 * budget leases. A window is checked
 * whole (all its rows), so a month's tie-out checks the month's windows, and a day's its daily ones.
 */
export async function windowDifferences(ex: Executor, from: Date, to: Date): Promise<{ checked: number; differences: WindowDifference[] }> {
  const rows = await ex.rows<Record<string, unknown>>(sql`
    WITH w AS (
      SELECT * FROM budget_windows WHERE window_start >= ${from.toISOString()}::timestamptz AND window_start < ${to.toISOString()}::timestamptz
    ),
    e AS (
      SELECT e.key_id, e.budget_window_start,
        coalesce(sum(e.billed_cost) FILTER (WHERE e.status <> 'pending'), 0) AS spent_cost,
        coalesce(sum(e.reserved_cost) FILTER (WHERE e.status = 'pending'), 0) AS reserved_cost,
        coalesce(sum(e.prompt_tokens + e.completion_tokens) FILTER (WHERE e.status <> 'pending'), 0) AS spent_tokens,
        coalesce(sum(coalesce(e.prompt_tokens_estimated, 0) + coalesce(e.max_completion_tokens, 0)) FILTER (WHERE e.status = 'pending'), 0) AS reserved_tokens
      -- A row's start lies in its window (the window is the one holding it): the (key, started_at) index finds them.
      FROM usage_events e JOIN w ON w.key_id = e.key_id AND w.window_start = e.budget_window_start
        AND e.started_at >= w.window_start AND e.started_at < w.window_end
      GROUP BY 1, 2
    ),
    -- Budget held in instances' leases (usage/leases.ts) is reserved too.
    l AS (
      SELECT l.key_id, l.window_start, sum(l.cost) AS cost, sum(l.tokens) AS tokens
      FROM budget_leases l JOIN w ON w.key_id = l.key_id AND w.window_start = l.window_start
      GROUP BY 1, 2
    ),
    c AS (
      SELECT w.key_id, w.window_start, w.window_end, w.spent_cost AS w_spent_cost, w.reserved_cost AS w_reserved_cost,
        w.spent_tokens AS w_spent_tokens, w.reserved_tokens AS w_reserved_tokens,
        coalesce(e.spent_cost, 0) AS e_spent_cost, coalesce(e.reserved_cost, 0) + coalesce(l.cost, 0) AS e_reserved_cost,
        coalesce(e.spent_tokens, 0) AS e_spent_tokens, coalesce(e.reserved_tokens, 0) + coalesce(l.tokens, 0) AS e_reserved_tokens
      FROM w LEFT JOIN e ON e.key_id = w.key_id AND e.budget_window_start = w.window_start
        LEFT JOIN l ON l.key_id = w.key_id AND l.window_start = w.window_start
    )
    SELECT c.key_id, ${epochMs(sql`c.window_start`)} AS start_ms, ${epochMs(sql`c.window_end`)} AS end_ms,
      c.w_spent_cost::text AS w_spent_cost, c.w_reserved_cost::text AS w_reserved_cost, c.w_spent_tokens::text AS w_spent_tokens,
      c.w_reserved_tokens::text AS w_reserved_tokens, c.e_spent_cost::text AS e_spent_cost, c.e_reserved_cost::text AS e_reserved_cost,
      c.e_spent_tokens::text AS e_spent_tokens, c.e_reserved_tokens::text AS e_reserved_tokens, d.differs,
      -- Only for a window that differs: the rows behind it.
      CASE WHEN d.differs THEN (SELECT coalesce(json_agg(x.request_id), '[]'::json) FROM (
        SELECT u.request_id FROM usage_events u
        WHERE u.key_id = c.key_id AND u.budget_window_start = c.window_start AND u.started_at >= c.window_start AND u.started_at < c.window_end
        ORDER BY u.started_at DESC, u.request_id LIMIT ${ROWS_PER_DIFFERENCE}) AS x) END AS request_ids
    FROM c CROSS JOIN LATERAL (
      SELECT (c.w_spent_cost <> c.e_spent_cost OR c.w_reserved_cost <> c.e_reserved_cost
        OR c.w_spent_tokens <> c.e_spent_tokens OR c.w_reserved_tokens <> c.e_reserved_tokens) AS differs
    ) AS d
    ORDER BY c.key_id, c.window_start`);
  const big = (row: Record<string, unknown>, name: string) => BigInt(row[name] as string);
  return {
    checked: rows.length,
    differences: rows
      .filter((row) => row.differs === true)
      .slice(0, MAX_DIFFERENCES)
      .map((row) => ({
        keyId: row.key_id as string,
        windowStart: new Date(Number(row.start_ms)),
        windowEnd: new Date(Number(row.end_ms)),
        counter: {
          spentCost: big(row, 'w_spent_cost'),
          reservedCost: big(row, 'w_reserved_cost'),
          spentTokens: big(row, 'w_spent_tokens'),
          reservedTokens: big(row, 'w_reserved_tokens'),
        },
        ledger: {
          spentCost: big(row, 'e_spent_cost'),
          reservedCost: big(row, 'e_reserved_cost'),
          spentTokens: big(row, 'e_spent_tokens'),
          reservedTokens: big(row, 'e_reserved_tokens'),
        },
        requestIds: parseIds(row.request_ids),
      })),
  };
}

/**
 * Makes the rest of this transaction read one snapshot (call it first): a tie-out must not see a
 * settle half-way. Its grouping of a month of rows gets the memory to hash it, and no JIT (which
 * compiles for seconds because the range joins' row estimates are far too high).
 */
export async function readOneSnapshot(tx: Executor, statementTimeoutMs: number): Promise<void> {
  await tx.rows(sql`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`);
  await tx.rows(sql`SELECT set_config('work_mem', '256MB', true), set_config('jit', 'off', true)`);
  await allowSlowStatements(tx, statementTimeoutMs);
}

/** The server's statement_timeout for the rest of this transaction (with TransactionOptions.statementTimeoutMs). */
export async function allowSlowStatements(tx: Executor, statementTimeoutMs: number): Promise<void> {
  await tx.rows(sql`SELECT set_config('statement_timeout', ${String(statementTimeoutMs)}, true)`);
}

export interface CompactionDifference {
  segmentStart: Date;
  segmentEnd: Date;
  teamId: string | null;
  keyId: string;
  model: string;
  status: string;
  tags: Record<string, string>;
  compacted: Sums;
  rollup: Sums;
}

/** Compacted segments overlapping [from, to) whose sums (with the rows recorded since) differ from the rollup's. */
export async function compactionDifferences(
  ex: Executor,
  from: Date,
  to: Date,
): Promise<{ checked: number; differences: CompactionDifference[] }> {
  const overlapping = sql`(
    SELECT segment_start AS s, segment_end AS e, through AS t FROM usage_compact_segments
    WHERE segment_start < ${to.toISOString()}::timestamptz AND segment_end > ${from.toISOString()}::timestamptz
  )`;
  // Per segment fingerprints first (see `fingerprint`); groups only for segments that differ.
  const suspects = await ex.rows<{ s: string; e: string; t: string; checked: number }>(sql`
    WITH segs AS ${overlapping},
    c AS (
      SELECT x.s, x.e, ${fingerprintSums(sql`x.requests`, sql`x.prompt_tokens`, sql`x.completion_tokens`, sql`x.cost`)}
      FROM (
        SELECT segs.s, segs.e, u.requests, u.prompt_tokens, u.completion_tokens, u.cost, ${fingerprint(sql`u.team_id`, sql`u.model`)} AS g
        FROM segs JOIN usage_compact u ON u.segment_start = segs.s AND u.segment_end = segs.e
        UNION ALL
        SELECT segs.s, segs.e, 1, e.prompt_tokens, e.completion_tokens, e.billed_cost,
          ${fingerprint(sql`coalesce(e.team_id, '')`, sql`coalesce(e.routed_model, e.requested_model)`)}
        FROM segs JOIN usage_events e ON e.started_at >= segs.s AND e.started_at < segs.e AND e.recorded_at > segs.t
        WHERE e.status <> 'pending' AND e.recorded_at > (SELECT min(t) FROM segs)
      ) AS x GROUP BY 1, 2
    ),
    -- The rollup fingerprinted once per quarter hour, then added up per segment (segments of
    -- several zones and units overlap: each rollup row is read once, not once per segment).
    q AS (
      SELECT x.bucket_start AS b, ${fingerprintSums(sql`x.requests`, sql`x.prompt_tokens`, sql`x.completion_tokens`, sql`x.cost`)}
      FROM (
        SELECT r.bucket_start, r.requests, r.prompt_tokens, r.completion_tokens, r.cost, ${fingerprint(sql`r.team_id`, sql`r.model`)} AS g
        FROM usage_rollup r
        WHERE r.bucket_start >= (SELECT min(s) FROM segs) AND r.bucket_start < (SELECT max(e) FROM segs)
      ) AS x GROUP BY 1
    ),
    r AS (
      SELECT segs.s, segs.e, sum(q.n) AS n, sum(q.p) AS p, sum(q.c) AS c, sum(q.cost) AS cost,
        sum(q.hn) AS hn, sum(q.hp) AS hp, sum(q.hc) AS hc, sum(q.hcost) AS hcost
      FROM segs JOIN q ON q.b >= segs.s AND q.b < segs.e GROUP BY 1, 2
    )
    SELECT segs.s::text AS s, segs.e::text AS e, segs.t::text AS t, (SELECT count(*) FROM segs)::int AS checked
    FROM segs LEFT JOIN c ON c.s = segs.s AND c.e = segs.e LEFT JOIN r ON r.s = segs.s AND r.e = segs.e
    WHERE ${differs('c', 'r')}
    UNION ALL SELECT NULL, NULL, NULL, (SELECT count(*) FROM segs)::int
    LIMIT ${MAX_DIFFERENCES}`);
  const checked = suspects[0]?.checked ?? 0;
  const flagged = suspects.filter((row) => row.s !== null);
  if (flagged.length === 0) return { checked, differences: [] };
  const list = JSON.stringify(flagged.map((row) => ({ s: row.s, e: row.e, t: row.t })));
  const rows = await ex.rows<Record<string, unknown>>(sql`
    WITH segs AS (SELECT * FROM jsonb_to_recordset(${list}::jsonb) AS w(s timestamptz, e timestamptz, t timestamptz)),
    c AS (
      SELECT x.s, x.e, x.team_id, x.key_id, x.model, x.status, x.tags, sum(x.requests) AS requests, sum(x.prompt) AS prompt,
        sum(x.completion) AS completion, sum(x.cost) AS cost
      FROM (
        SELECT segs.s, segs.e, u.team_id, u.key_id, u.model, u.status, u.tags, u.requests, u.prompt_tokens AS prompt,
          u.completion_tokens AS completion, u.cost
        FROM segs JOIN usage_compact u ON u.segment_start = segs.s AND u.segment_end = segs.e
        UNION ALL
        SELECT segs.s, segs.e, coalesce(e.team_id, ''), e.key_id, coalesce(e.routed_model, e.requested_model), e.status, e.tags, 1,
          e.prompt_tokens, e.completion_tokens, e.billed_cost
        FROM segs JOIN usage_events e ON e.started_at >= segs.s AND e.started_at < segs.e AND e.recorded_at > segs.t
        WHERE e.status <> 'pending'
      ) AS x GROUP BY 1, 2, 3, 4, 5, 6, 7
    ),
    r AS (
      SELECT segs.s, segs.e, r.team_id, r.key_id, r.model, r.status, r.tags, sum(r.requests) AS requests, sum(r.prompt_tokens) AS prompt,
        sum(r.completion_tokens) AS completion, sum(r.cost) AS cost
      FROM segs JOIN usage_rollup r ON r.bucket_start >= segs.s AND r.bucket_start < segs.e
      GROUP BY 1, 2, 3, 4, 5, 6, 7
    )
    SELECT ${epochMs(sql`coalesce(c.s, r.s)`)} AS s_ms, ${epochMs(sql`coalesce(c.e, r.e)`)} AS e_ms, coalesce(c.team_id, r.team_id) AS team_id,
      coalesce(c.key_id, r.key_id) AS key_id, coalesce(c.model, r.model) AS model, coalesce(c.status, r.status) AS status,
      coalesce(c.tags, r.tags) AS tags,
      c.requests::text AS c_requests, c.prompt::text AS c_prompt, c.completion::text AS c_completion, c.cost::text AS c_cost,
      r.requests::text AS r_requests, r.prompt::text AS r_prompt, r.completion::text AS r_completion, r.cost::text AS r_cost
    FROM c FULL JOIN r ON c.s = r.s AND c.e = r.e AND c.team_id = r.team_id AND c.key_id = r.key_id AND c.model = r.model
      AND c.status = r.status AND c.tags = r.tags
    WHERE c.requests IS DISTINCT FROM r.requests OR c.prompt IS DISTINCT FROM r.prompt
      OR c.completion IS DISTINCT FROM r.completion OR c.cost IS DISTINCT FROM r.cost
    LIMIT ${MAX_DIFFERENCES}`);
  return {
    checked,
    differences: rows.map((row) => ({
      segmentStart: new Date(Number(row.s_ms)),
      segmentEnd: new Date(Number(row.e_ms)),
      teamId: row.team_id === '' ? null : (row.team_id as string),
      keyId: row.key_id as string,
      model: row.model as string,
      status: row.status as string,
      tags: parseTags(row.tags),
      compacted: sums(row, 'c_'),
      rollup: sums(row, 'r_'),
    })),
  };
}
