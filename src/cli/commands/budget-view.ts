import { cell, fields } from '../format';

/** `GET /admin/keys/:id/budget`; money fields are decimal strings, null when unlimited. */
export interface BudgetView {
  keyId: string;
  limit: string | null;
  limitTokens: number | null;
  period: string;
  timezone: string;
  softThresholdPct: number | null;
  spent?: string | null;
  reserved?: string | null;
  remaining?: string | null;
  spentTokens?: number | null;
  reservedTokens?: number | null;
  remainingTokens?: number | null;
  periodStart?: string | null;
  periodEnd?: string | null;
}

/** `spent 1.25 + reserved 0.10 of 10 (remaining 8.65)`, or `no limit (spent 1.25)`. */
function usageAgainst(limit: string | number | null, spent: unknown, reserved: unknown, remaining: unknown): string {
  if (limit === null || limit === undefined) return `no limit (spent ${cell(spent as string)})`;
  return `spent ${cell(spent as string)} + reserved ${cell(reserved as string)} of ${limit} (remaining ${cell(remaining as string)})`;
}

/** The budget as label/value lines, shared by `budget show`, `budget set` and `keys show`. */
export function budgetLines(budget: BudgetView): string[] {
  const window = budget.periodStart ? `, ${budget.periodStart} → ${budget.periodEnd ?? 'open'}` : '';
  return fields([
    ['period', `${budget.period} (${budget.timezone ?? 'UTC'})${window}`],
    ['money', usageAgainst(budget.limit, budget.spent, budget.reserved, budget.remaining)],
    ['tokens', usageAgainst(budget.limitTokens, budget.spentTokens, budget.reservedTokens, budget.remainingTokens)],
    ['soft alert', budget.softThresholdPct === null || budget.softThresholdPct === undefined ? null : `${budget.softThresholdPct}%`],
  ]);
}
