import { type Column, type Measures, measureColumns, sumMeasures } from './columns';
import { type Dimension, dimensionName } from './spec';

// The usage report from grouped sums: the top N groups kept and the rest folded into one `other`
// row per bucket, rows in a fixed order, names beside ids, and totals that are the sum of the rows
// (every grouping and bucketing partitions the same filtered usage, so totals agree across them).

export interface UsageBucketLabel {
  start: Date;
  end: Date;
  startLocal: string;
  endLocal: string;
}

export interface GroupedUsage extends Measures {
  bucket: UsageBucketLabel | null;
  values: (string | null)[];
}

export interface UsageReportRow extends GroupedUsage {
  /** The groups outside the top N, folded together (their values are null). */
  other: boolean;
}

export interface Names {
  keys: ReadonlyMap<string, string>;
  teams: ReadonlyMap<string, { name: string; costCenter: string | null }>;
}

const groupKey = (values: readonly (string | null)[]) => JSON.stringify(values);

/**
 * Keeps the `top` groups that cost most over the whole range (then most requests, then by value,
 * so ties are stable) and folds the rest into one `other` row per bucket; nothing is dropped.
 *
 * @example foldTop(groups, 5) // at most 5 groups per bucket, plus 'other'
 */
export function foldTop(groups: readonly GroupedUsage[], top: number | null): UsageReportRow[] {
  if (top === null) return groups.map((group) => ({ ...group, other: false }));
  const overall = new Map<string, { values: (string | null)[]; measures: Measures[] }>();
  for (const group of groups) {
    const key = groupKey(group.values);
    const entry = overall.get(key) ?? { values: group.values, measures: [] };
    entry.measures.push(group);
    overall.set(key, entry);
  }
  const ranked = [...overall.entries()]
    .map(([key, entry]) => ({ key, values: entry.values, sum: sumMeasures(entry.measures) }))
    .sort((a, b) => compareBig(b.sum.cost, a.sum.cost) || compareBig(b.sum.requests, a.sum.requests) || compareValues(a.values, b.values));
  const kept = new Set(ranked.slice(0, top).map((entry) => entry.key));
  const out: UsageReportRow[] = [];
  const others = new Map<string, UsageReportRow>();
  for (const group of groups) {
    if (kept.has(groupKey(group.values))) {
      out.push({ ...group, other: false });
      continue;
    }
    const bucketKey = group.bucket ? String(group.bucket.start.getTime()) : '';
    const other = others.get(bucketKey);
    if (other) Object.assign(other, addTo(other, group));
    else
      others.set(bucketKey, {
        bucket: group.bucket,
        values: group.values.map(() => null),
        other: true,
        requests: group.requests,
        promptTokens: group.promptTokens,
        completionTokens: group.completionTokens,
        cost: group.cost,
      });
  }
  return [...out, ...others.values()];
}

function addTo(a: Measures, b: Measures): Measures {
  return {
    requests: a.requests + b.requests,
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    cost: a.cost + b.cost,
  };
}

const compareBig = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

function compareValues(a: readonly (string | null)[], b: readonly (string | null)[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? null;
    const y = b[i] ?? null;
    if (x === y) continue;
    if (x === null) return 1;
    if (y === null) return -1;
    return x < y ? -1 : 1;
  }
  return 0;
}

/** Rows in report order: by bucket, then the costliest first, `other` last in its bucket. */
export function sortRows(rows: UsageReportRow[]): UsageReportRow[] {
  return rows.sort(
    (a, b) =>
      (a.bucket?.start.getTime() ?? 0) - (b.bucket?.start.getTime() ?? 0) ||
      Number(a.other) - Number(b.other) ||
      compareBig(b.cost, a.cost) ||
      compareBig(b.requests, a.requests) ||
      compareValues(a.values, b.values),
  );
}

/**
 * `2026-03-08T00:00:00-05:00`: a local wall time with its offset from UTC at `at`.
 *
 * @example isoWithOffset(new Date('2026-03-08T05:00:00Z'), '2026-03-08T00:00:00') // '2026-03-08T00:00:00-05:00'
 */
export function isoWithOffset(at: Date, local: string): string {
  const minutes = Math.round((Date.parse(`${local}Z`) - at.getTime()) / 60_000);
  if (minutes === 0) return `${local}Z`;
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** The columns of a usage report: bucket, then each dimension (with names for keys and teams), then the measures. */
export function usageColumns(
  groupBy: readonly Dimension[],
  options: { bucketed: boolean; top: boolean; names: Names },
): Column<UsageReportRow>[] {
  const columns: Column<UsageReportRow>[] = [];
  if (options.bucketed) {
    columns.push(
      { name: 'bucketStart', kind: 'instant', get: (row) => (row.bucket ? isoWithOffset(row.bucket.start, row.bucket.startLocal) : null) },
      { name: 'bucketEnd', kind: 'instant', get: (row) => (row.bucket ? isoWithOffset(row.bucket.end, row.bucket.endLocal) : null) },
    );
  }
  groupBy.forEach((dimension, i) => {
    const value = (row: UsageReportRow) => row.values[i] ?? null;
    if (dimension.kind === 'team') {
      columns.push(
        { name: 'teamId', kind: 'text', get: value },
        { name: 'teamName', kind: 'text', get: (row) => options.names.teams.get(value(row) ?? '')?.name ?? null },
        { name: 'costCenter', kind: 'text', get: (row) => options.names.teams.get(value(row) ?? '')?.costCenter ?? null },
      );
    } else if (dimension.kind === 'key') {
      columns.push(
        { name: 'keyId', kind: 'text', get: value },
        { name: 'keyName', kind: 'text', get: (row) => options.names.keys.get(value(row) ?? '') ?? null },
      );
    } else {
      columns.push({ name: dimensionName(dimension), kind: 'text', get: value });
    }
  });
  if (options.top) columns.push({ name: 'other', kind: 'boolean', get: (row) => row.other });
  columns.push(...measureColumns<UsageReportRow>());
  return columns;
}
