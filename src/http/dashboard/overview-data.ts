import { parseUsageSpec, usageReport, usageReportJson } from '../../reports';
import { previousRange, type StackedChart, stackColumns } from '../../reports/overview';
import type { ReportScope } from '../../reports/range';
import type { Params } from '../../reports/spec';
import { isoWithOffset } from '../../reports/usage';
import type { Store } from '../../store/db';
import { localBuckets } from '../../store/reports-usage';
import { apiParams, type ViewFilters } from './filters';

// What the overview shows, read with the reports API's own functions and parameters: each block
// is one usage report, and its CSV button is the same parameters with format=csv.

export const OVERVIEW_BUCKETS = ['hour', 'day', 'week', 'month'] as const;
export type OverviewBucket = (typeof OVERVIEW_BUCKETS)[number];
export const STACKS = ['model', 'team'] as const;
export type Stack = (typeof STACKS)[number];
/** Series drawn in the spend chart before the rest is folded into 'other'. */
export const SPEND_TOP = 6;
/** Rows of the top keys and top teams tables before 'other'. */
export const TABLE_TOP = 10;

export type UsageJson = ReturnType<typeof usageReportJson>;

export interface Overview {
  params: { spend: Params; keys: Params; teams: Params; models: Params; totals: Params; previous: Params | null };
  spend: UsageJson;
  chart: StackedChart;
  keys: UsageJson;
  teams: UsageJson;
  models: UsageJson;
  previous: UsageJson | null;
  previousRange: { from: string; to: string } | null;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The label of a team row or series: its name, 'Keys in no team', or 'Other teams'. */
export function teamLabel(row: Record<string, unknown>): string {
  if (row.other === true) return 'Other teams';
  return row.teamId === null ? 'Keys in no team' : String(row.teamName ?? row.teamId);
}

/**
 * Runs the overview's reports for `filters`: the range's totals by model first (which compacts the
 * range's days once), then spend per bucket, top keys, top teams and the previous period together.
 */
export async function loadOverview(
  store: Store,
  filters: ViewFilters,
  view: { bucket: OverviewBucket; stack: Stack },
  scope: ReportScope,
  now: Date,
): Promise<Overview> {
  const base = apiParams(filters);
  const before = DATE.test(filters.from) && DATE.test(filters.to) ? previousRange(filters.from, filters.to) : null;
  const params = {
    spend: { ...base, bucket: [view.bucket], groupBy: [view.stack], top: [String(SPEND_TOP)] },
    keys: { ...base, groupBy: ['key'], top: [String(TABLE_TOP)] },
    teams: { ...base, groupBy: ['team'], top: [String(TABLE_TOP)] },
    models: { ...base, groupBy: ['model'] },
    totals: base,
    previous: before ? { ...base, from: [before.from], to: [before.to] } : null,
  };
  const run = async (query: Params) => usageReportJson(await usageReport(store, parseUsageSpec(query), scope, now, { compact: store }));
  const models = await run(params.models);
  const [spend, keys, teams, previous] = await Promise.all([
    run(params.spend),
    run(params.keys),
    run(params.teams),
    params.previous ? run(params.previous) : null,
  ]);
  const axis = await localBuckets(store, new Date(String(spend.query.from)), new Date(String(spend.query.to)), filters.tz, view.bucket);
  const chart = stackColumns(
    spend.rows,
    axis.map((bucket) => ({ start: isoWithOffset(bucket.start, bucket.startLocal), end: isoWithOffset(bucket.end, bucket.endLocal) })),
    (row) =>
      view.stack === 'model'
        ? {
            id: row.other === true ? null : String(row.model),
            label: row.other === true ? 'Other models' : String(row.model),
            other: row.other === true,
          }
        : { id: row.other === true ? null : ((row.teamId as string | null) ?? null), label: teamLabel(row), other: row.other === true },
  );
  return { params, spend, chart, keys, teams, models, previous, previousRange: before };
}
