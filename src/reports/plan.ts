import type { Executor, Store } from '../store/db';
import {
  type CompactedSegment,
  compactedSegments,
  compactionHorizon,
  compactSegments,
  localUnits,
  refreshSegments,
  type Segment,
} from '../store/reports-compact';
import { isQuarterAligned, type UsageBucket, type UsagePlan } from '../store/reports-usage';

// Which stored sums answer a usage report. A range of whole quarter hours is read from the
// rollup; its whole local days (hours, for hourly buckets) from compacted segments, made on first
// use and brought up to date as they are read, so a month's report reads ~31 segments instead of
// ~3,000 quarter hours. A range that is not whole quarter hours is read from the ledger rows.

/** A compacted segment older than this is brought up to date before it is read. */
export const REFRESH_AFTER_MS = 10 * 60_000;

/**
 * The most segments one report compacts on its way (the rest is read from the rollup): a first
 * read of a long range stays within the statement deadline and gets faster with each read, while
 * maintenance compacts ended days ahead in the configured zones.
 */
export const MAX_COMPACTED_PER_READ = 4;

/** [from, to) less the segments (sorted, disjoint, inside it): the gaps, adjacent ones merged. */
export function uncovered(from: Date, to: Date, segments: readonly Segment[]): Segment[] {
  const gaps: Segment[] = [];
  let cursor = from;
  for (const segment of [...segments].sort((a, b) => a.start.getTime() - b.start.getTime())) {
    if (segment.start > cursor) gaps.push({ start: cursor, end: segment.start });
    if (segment.end > cursor) cursor = segment.end;
  }
  if (cursor < to) gaps.push({ start: cursor, end: to });
  return gaps;
}

export interface PlanOptions {
  /** Make and refresh compacted segments (needs the store itself, outside any transaction); absent: read what exists. */
  compact?: Store;
}

/**
 * The plan for [from, to) in `tz` with buckets `bucket`.
 *
 * @example const plan = await planUsage(store, from, to, 'America/New_York', 'day', { compact: store });
 */
export async function planUsage(
  ex: Executor,
  from: Date,
  to: Date,
  tz: string,
  bucket: UsageBucket,
  options: PlanOptions = {},
): Promise<UsagePlan> {
  if (!isQuarterAligned(from) || !isQuarterAligned(to)) return { kind: 'ledger', from, to };
  const unit = bucket === 'hour' ? 'hour' : 'day';
  // Only segments that ended a while ago are compacted: their rows are (nearly) all final.
  const horizon = options.compact ? await compactionHorizon(options.compact) : null;
  const units = await localUnits(ex, from, to, tz, unit, horizon ?? to);
  let compacted: CompactedSegment[] = await compactedSegments(ex, units);
  if (options.compact && horizon) {
    const missing = units
      .filter((u) => u.end <= horizon && !compacted.some((c) => c.start.getTime() === u.start.getTime()))
      .slice(0, MAX_COMPACTED_PER_READ);
    const stale = compacted.some((c) => c.through.getTime() < horizon.getTime() - REFRESH_AFTER_MS);
    if (stale) await refreshSegments(options.compact, new Date(horizon.getTime() - REFRESH_AFTER_MS), horizon);
    if (missing.length > 0) await compactSegments(options.compact, missing, horizon);
    if (stale || missing.length > 0) compacted = await compactedSegments(ex, units);
  }
  const segmentUnit = bucket === unit ? unit : null;
  return { kind: 'rollup', ranges: uncovered(from, to, compacted), compacted, segmentUnit };
}
