import { type SQL, sql } from 'drizzle-orm';
import type { Executor } from './db';
import { inList } from './reports-usage';
import { epochMs, windowBounds } from './windows';

/** A key's budget and its current window's counters, as the budgets report reads them. */
export interface BudgetRow {
  keyId: string;
  keyName: string;
  teamId: string | null;
  teamName: string | null;
  period: string;
  timezone: string;
  /** Picodollars; null: no money limit. */
  limitCost: bigint | null;
  limitTokens: bigint | null;
  /** The alert threshold, in percent of the limit; null: none. */
  softThresholdPct: number | null;
  windowStart: Date;
  windowEnd: Date;
  spentCost: bigint;
  reservedCost: bigint;
  spentTokens: bigint;
  reservedTokens: bigint;
}

interface Row extends Record<string, unknown> {
  key_id: string;
  key_name: string;
  team_id: string | null;
  team_name: string | null;
  period: string;
  timezone: string;
  limit_cost: string | null;
  limit_tokens: string | null;
  soft_threshold_pct: number | null;
  start_ms: number;
  end_ms: number;
  spent_cost: string;
  reserved_cost: string;
  spent_tokens: string;
  reserved_tokens: string;
}

/**
 * Every live key with a budget, with the window holding `at` (by admission's own window rule) and
 * its spent and reserved counters; limited to keys now in `scopeTeams` when given.
 */
export async function budgetRows(
  ex: Executor,
  at: Date,
  filter: { scopeTeams: readonly string[] | null; teams?: (string | null)[]; keys?: string[] },
): Promise<BudgetRow[]> {
  const where: SQL[] = [sql`k.revoked_at IS NULL`];
  const team = sql`coalesce(k.team_id, '')`;
  if (filter.scopeTeams) where.push(inList(team, filter.scopeTeams));
  if (filter.teams)
    where.push(
      inList(
        team,
        filter.teams.map((id) => id ?? ''),
      ),
    );
  if (filter.keys) where.push(inList(sql`k.id`, filter.keys));
  const rows = await ex.rows<Row>(sql`
    SELECT k.id AS key_id, k.name AS key_name, k.team_id, t.name AS team_name, b.period, b.timezone,
      b.limit_cost::text AS limit_cost, b.limit_tokens::text AS limit_tokens, b.soft_threshold_pct,
      ${epochMs(sql`w.window_start`)} AS start_ms, ${epochMs(sql`w.window_end`)} AS end_ms,
      coalesce(bw.spent_cost, 0)::text AS spent_cost, coalesce(bw.reserved_cost, 0)::text AS reserved_cost,
      coalesce(bw.spent_tokens, 0)::text AS spent_tokens, coalesce(bw.reserved_tokens, 0)::text AS reserved_tokens
    FROM budgets b
    JOIN api_keys k ON k.id = b.key_id
    LEFT JOIN teams t ON t.id = k.team_id
    CROSS JOIN LATERAL (SELECT ${windowBounds(sql`${at.toISOString()}::timestamptz`)}) AS w
    LEFT JOIN budget_windows bw ON bw.key_id = b.key_id AND bw.window_start = w.window_start
    WHERE ${sql.join(where, sql` AND `)}
    ORDER BY t.name NULLS LAST, k.name, k.id`);
  return rows.map((row) => ({
    keyId: row.key_id,
    keyName: row.key_name,
    teamId: row.team_id,
    teamName: row.team_name,
    period: row.period,
    timezone: row.timezone,
    limitCost: row.limit_cost === null ? null : BigInt(row.limit_cost),
    limitTokens: row.limit_tokens === null ? null : BigInt(row.limit_tokens),
    softThresholdPct: row.soft_threshold_pct === null ? null : Number(row.soft_threshold_pct),
    windowStart: new Date(Number(row.start_ms)),
    windowEnd: new Date(Number(row.end_ms)),
    spentCost: BigInt(row.spent_cost),
    reservedCost: BigInt(row.reserved_cost),
    spentTokens: BigInt(row.spent_tokens),
    reservedTokens: BigInt(row.reserved_tokens),
  }));
}
