import { badRequest } from '../errors';
import type { Executor } from '../store/db';
import { budgetRows } from '../store/reports-budgets';
import { budgetColumns, budgetReportRows } from './budgets';
import { jsonRow } from './columns';
import type { ReportScope } from './range';
import { type Params, parseFilters } from './spec';

/**
 * `GET /reports/budgets`: every live budgeted key (filtered by `team`, `key`) with its current
 * window and projection, then one row per team.
 */
export async function budgetsReport(ex: Executor, params: Params, scope: ReportScope, now: Date) {
  for (const name of Object.keys(params)) {
    if (!['team', 'key', 'format'].includes(name))
      throw badRequest(`Unknown parameter '${name}' (known: team, key, format).`, name, 'unknown_parameter');
  }
  const filters = parseFilters(params);
  const rows = budgetReportRows(await budgetRows(ex, now, { scopeTeams: scope.teams, teams: filters.teams, keys: filters.keys }), now);
  return {
    columns: budgetColumns,
    rows,
    json: {
      object: 'report.budgets',
      generatedAt: now.toISOString(),
      currency: 'USD',
      projection:
        "burnRatePerDay = spent / (now - periodStart), per day; projectedSpend = spent + burnRatePerDay * (periodEnd - now); projectedExhaustedAt = when spent + reserved would reach the limit at that rate, if before periodEnd; none for 'total' budgets",
      columns: budgetColumns.map((column) => column.name),
      rows: rows.map((row) => jsonRow(budgetColumns, row)),
    },
  };
}
