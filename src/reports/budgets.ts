import type { BudgetRow } from '../store/reports-budgets';
import type { Column } from './columns';

// The budgets report: each key's current window (spent, reserved, remaining, utilisation) and a
// burn-rate projection, plus one row per team summing its keys. The projection is the window's
// average so far, continued: rate = spent / (now - windowStart); spend at the window's end =
// spent + rate * (windowEnd - now); exhaustion = now + (limit - spent - reserved) / rate, if that
// falls before the window ends. A `total` budget has no end, so no projection. All in bigint.

const DAY_MS = 86_400_000n;

export interface Projection {
  /** Picodollars (or tokens) per day, the window's average so far. */
  burnPerDay: bigint | null;
  /** Spend at the window's end at that rate. */
  projected: bigint | null;
  /** When the limit is reached at that rate, if within the window. */
  exhaustedAt: Date | null;
}

const NONE: Projection = { burnPerDay: null, projected: null, exhaustedAt: null };

/**
 * The window's average burn, continued to its end.
 *
 * @example
 * project({ spent: 10n, reserved: 0n, limit: 40n, windowStart, windowEnd }, now) // a quarter through: projected 40n
 */
export function project(
  state: { spent: bigint; reserved: bigint; limit: bigint | null; windowStart: Date; windowEnd: Date; period: string },
  now: Date,
): Projection {
  if (state.period === 'total') return NONE;
  const elapsed = BigInt(now.getTime() - state.windowStart.getTime());
  if (elapsed <= 0n) return NONE;
  const left = BigInt(Math.max(0, state.windowEnd.getTime() - now.getTime()));
  const burnPerDay = (state.spent * DAY_MS) / elapsed;
  const projected = state.spent + (state.spent * left) / elapsed;
  let exhaustedAt: Date | null = null;
  if (state.limit !== null) {
    const remaining = state.limit - state.spent - state.reserved;
    if (remaining <= 0n) exhaustedAt = now;
    else if (state.spent > 0n) {
      // Rounded up: the limit is not reached before this instant.
      const ms = (remaining * elapsed + state.spent - 1n) / state.spent;
      if (ms < left) exhaustedAt = new Date(now.getTime() + Number(ms));
    }
  }
  return { burnPerDay, projected, exhaustedAt };
}

/** `used / limit` in percent with two decimals, rounded down ("99.99" is not yet "100.00"). */
export function percent(used: bigint, limit: bigint | null): string | null {
  if (limit === null || limit <= 0n) return null;
  const hundredths = (used * 10_000n) / limit;
  const sign = hundredths < 0n ? '-' : '';
  const abs = hundredths < 0n ? -hundredths : hundredths;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

export interface BudgetReportRow {
  scope: 'key' | 'team';
  teamId: string | null;
  teamName: string | null;
  keyId: string | null;
  keyName: string | null;
  /** Keys summed (1 for a key row). */
  keys: number;
  period: string;
  timezone: string | null;
  periodStart: string | null;
  periodEnd: string | null;
  limit: bigint | null;
  spent: bigint;
  reserved: bigint;
  limitTokens: bigint | null;
  spentTokens: bigint;
  reservedTokens: bigint;
  /** The key's alert threshold in percent of its limit (a team's when all its keys share one). */
  softThresholdPct: number | null;
  money: Projection;
  tokens: Projection;
}

export function keyRow(row: BudgetRow, now: Date): BudgetReportRow {
  const window = { windowStart: row.windowStart, windowEnd: row.windowEnd, period: row.period };
  return {
    scope: 'key',
    teamId: row.teamId,
    teamName: row.teamName,
    keyId: row.keyId,
    keyName: row.keyName,
    keys: 1,
    period: row.period,
    timezone: row.timezone,
    periodStart: row.period === 'total' ? null : row.windowStart.toISOString(),
    periodEnd: row.period === 'total' ? null : row.windowEnd.toISOString(),
    limit: row.limitCost,
    spent: row.spentCost,
    reserved: row.reservedCost,
    limitTokens: row.limitTokens,
    spentTokens: row.spentTokens,
    reservedTokens: row.reservedTokens,
    softThresholdPct: row.softThresholdPct,
    money: project({ ...window, spent: row.spentCost, reserved: row.reservedCost, limit: row.limitCost }, now),
    tokens: project({ ...window, spent: row.spentTokens, reserved: row.reservedTokens, limit: row.limitTokens }, now),
  };
}

const sumOrNull = (values: (bigint | null)[]) =>
  values.some((value) => value === null) ? null : values.reduce<bigint>((a, b) => a + b!, 0n);
const same = <T>(values: T[]): T | null => (values.every((value) => value === values[0]) ? values[0]! : null);

/**
 * A team's row: its keys' budgets summed. A limit is the sum only when every key has one (else
 * the team is not capped: null); a projection sums the keys' own projections; a total-period key
 * counts with what it has spent. Teams have no budget of their own.
 */
export function teamRow(rows: readonly BudgetReportRow[]): BudgetReportRow {
  const first = rows[0]!;
  const earliest = (dates: (Date | null)[]) =>
    dates.filter((d): d is Date => d !== null).sort((a, b) => a.getTime() - b.getTime())[0] ?? null;
  const projected = (pick: (row: BudgetReportRow) => Projection, spent: (row: BudgetReportRow) => bigint): Projection => ({
    burnPerDay: rows.reduce((sum, row) => sum + (pick(row).burnPerDay ?? 0n), 0n),
    projected: rows.reduce((sum, row) => sum + (pick(row).projected ?? spent(row)), 0n),
    exhaustedAt: earliest(rows.map((row) => pick(row).exhaustedAt)),
  });
  return {
    scope: 'team',
    teamId: first.teamId,
    teamName: first.teamName,
    keyId: null,
    keyName: null,
    keys: rows.length,
    period: same(rows.map((row) => row.period)) ?? 'mixed',
    timezone: same(rows.map((row) => row.timezone)),
    periodStart: same(rows.map((row) => row.periodStart)),
    periodEnd: same(rows.map((row) => row.periodEnd)),
    limit: sumOrNull(rows.map((row) => row.limit)),
    spent: rows.reduce((sum, row) => sum + row.spent, 0n),
    reserved: rows.reduce((sum, row) => sum + row.reserved, 0n),
    limitTokens: sumOrNull(rows.map((row) => row.limitTokens)),
    spentTokens: rows.reduce((sum, row) => sum + row.spentTokens, 0n),
    reservedTokens: rows.reduce((sum, row) => sum + row.reservedTokens, 0n),
    softThresholdPct: same(rows.map((row) => row.softThresholdPct)),
    money: projected(
      (row) => row.money,
      (row) => row.spent,
    ),
    tokens: projected(
      (row) => row.tokens,
      (row) => row.spentTokens,
    ),
  };
}

/** Key rows, then one row per team (keys in no team have none). */
export function budgetReportRows(rows: readonly BudgetRow[], now: Date): BudgetReportRow[] {
  const keys = rows.map((row) => keyRow(row, now));
  const byTeam = new Map<string, BudgetReportRow[]>();
  for (const row of keys) if (row.teamId !== null) byTeam.set(row.teamId, [...(byTeam.get(row.teamId) ?? []), row]);
  return [...keys, ...[...byTeam.values()].map(teamRow)];
}

const remaining = (limit: bigint | null, spent: bigint, reserved: bigint) => (limit === null ? null : limit - spent - reserved);

export const budgetColumns: Column<BudgetReportRow>[] = [
  { name: 'scope', kind: 'text', get: (row) => row.scope },
  { name: 'teamId', kind: 'text', get: (row) => row.teamId },
  { name: 'teamName', kind: 'text', get: (row) => row.teamName },
  { name: 'keyId', kind: 'text', get: (row) => row.keyId },
  { name: 'keyName', kind: 'text', get: (row) => row.keyName },
  { name: 'keys', kind: 'integer', get: (row) => row.keys },
  { name: 'period', kind: 'text', get: (row) => row.period },
  { name: 'timezone', kind: 'text', get: (row) => row.timezone },
  { name: 'periodStart', kind: 'instant', get: (row) => row.periodStart },
  { name: 'periodEnd', kind: 'instant', get: (row) => row.periodEnd },
  { name: 'limit', kind: 'money', get: (row) => row.limit },
  { name: 'spent', kind: 'money', get: (row) => row.spent },
  { name: 'reserved', kind: 'money', get: (row) => row.reserved },
  { name: 'remaining', kind: 'money', get: (row) => remaining(row.limit, row.spent, row.reserved) },
  { name: 'utilisationPct', kind: 'text', get: (row) => percent(row.spent + row.reserved, row.limit) },
  { name: 'softThresholdPct', kind: 'integer', get: (row) => row.softThresholdPct },
  { name: 'limitTokens', kind: 'integer', get: (row) => row.limitTokens },
  { name: 'spentTokens', kind: 'integer', get: (row) => row.spentTokens },
  { name: 'reservedTokens', kind: 'integer', get: (row) => row.reservedTokens },
  { name: 'remainingTokens', kind: 'integer', get: (row) => remaining(row.limitTokens, row.spentTokens, row.reservedTokens) },
  { name: 'tokenUtilisationPct', kind: 'text', get: (row) => percent(row.spentTokens + row.reservedTokens, row.limitTokens) },
  { name: 'burnRatePerDay', kind: 'money', get: (row) => row.money.burnPerDay },
  { name: 'projectedSpend', kind: 'money', get: (row) => row.money.projected },
  {
    name: 'projectedUtilisationPct',
    kind: 'text',
    get: (row) => (row.money.projected === null ? null : percent(row.money.projected, row.limit)),
  },
  {
    name: 'projectedExhaustedAt',
    kind: 'instant',
    get: (row) => earliestOf(row.money.exhaustedAt, row.tokens.exhaustedAt)?.toISOString() ?? null,
  },
  { name: 'tokenBurnRatePerDay', kind: 'integer', get: (row) => row.tokens.burnPerDay },
  { name: 'projectedTokens', kind: 'integer', get: (row) => row.tokens.projected },
];

function earliestOf(a: Date | null, b: Date | null): Date | null {
  if (a === null) return b;
  if (b === null) return a;
  return a.getTime() <= b.getTime() ? a : b;
}
