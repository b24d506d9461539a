import { badRequest } from '../errors';
import type { Executor } from '../store/db';
import { groupUsage, reportNames, reportReads } from '../store/reports-usage';
import { type Column, jsonRow, type Measures, measuresJson, sumMeasures } from './columns';
import { type PlanOptions, planUsage } from './plan';
import { filtersEcho, type ReportScope, resolveRange } from './range';
import { dimensionName, type UsageSpec } from './spec';
import { foldTop, sortRows, type UsageReportRow, usageColumns } from './usage';

/** A usage report, ready to be written as JSON or CSV. */
export interface UsageReport {
  query: Record<string, unknown>;
  generatedAt: Date;
  /** `rollup` (quarter-hour sums and compacted days) when the range is whole quarter hours, else `ledger` (the rows). */
  source: 'rollup' | 'ledger';
  columns: Column<UsageReportRow>[];
  rows: UsageReportRow[];
  totals: Measures;
}

const BUCKET_MS = { hour: 3_600_000, day: 86_400_000, week: 7 * 86_400_000, month: 28 * 86_400_000 } as const;
const MAX_BUCKETS = 20_000;

/**
 * Runs a usage report: the range resolved in `tz`, usage grouped in the database (from the
 * rollup when it can answer exactly), top-N folded, named, totalled.
 *
 * @example
 * const report = await usageReport(store, parseUsageSpec(c.req.queries()), { teams: null, actor: 'operator' }, new Date());
 */
export async function usageReport(
  ex: Executor,
  spec: UsageSpec,
  scope: ReportScope,
  now: Date,
  options: PlanOptions = {},
): Promise<UsageReport> {
  const { from, to } = await resolveRange(ex, spec);
  if (spec.bucket !== 'none' && (to.getTime() - from.getTime()) / BUCKET_MS[spec.bucket] > MAX_BUCKETS) {
    throw badRequest(
      `The range holds more than ${MAX_BUCKETS} ${spec.bucket} buckets; choose a larger bucket or a shorter range.`,
      'bucket',
      'invalid_value',
    );
  }
  const plan = await planUsage(ex, from, to, spec.tz, spec.bucket, options);
  const groups = await reportReads(ex, (reads) =>
    groupUsage(reads, {
      from,
      to,
      tz: spec.tz,
      bucket: spec.bucket,
      columns: spec.groupBy,
      where: spec.filters,
      scopeTeams: scope.teams,
      plan,
    }),
  );
  const rows = sortRows(foldTop(groups, spec.top));
  const keyIndex = spec.groupBy.findIndex((dimension) => dimension.kind === 'key');
  const keyIds = keyIndex < 0 ? [] : [...new Set(rows.map((row) => row.values[keyIndex]).filter((id): id is string => id != null))];
  const names = await reportNames(ex, keyIds);
  return {
    query: {
      from: from.toISOString(),
      to: to.toISOString(),
      tz: spec.tz,
      bucket: spec.bucket,
      groupBy: spec.groupBy.map(dimensionName),
      filters: filtersEcho(spec.filters),
      top: spec.top,
    },
    generatedAt: now,
    source: plan.kind,
    columns: usageColumns(spec.groupBy, { bucketed: spec.bucket !== 'none', top: spec.top !== null, names }),
    rows,
    totals: sumMeasures(rows),
  };
}

/** The report as JSON: its query, the column names, the rows keyed by them, and the totals. */
export function usageReportJson(report: UsageReport) {
  return {
    object: 'report.usage',
    query: report.query,
    generatedAt: report.generatedAt.toISOString(),
    currency: 'USD',
    source: report.source,
    columns: report.columns.map((column) => column.name),
    rows: report.rows.map((row) => jsonRow(report.columns, row)),
    totals: measuresJson(report.totals),
  };
}
