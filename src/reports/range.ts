import { badRequest } from '../errors';
import type { Executor } from '../store/db';
import { knownTimeZone, localMidnights } from '../store/reports-usage';
import { type Bound, NO_TEAM, type RangeSpec, type UsageFilters } from './spec';

/** Who is reading: every team, or only some (a team-limited `reports` key). */
export interface ReportScope {
  /** null: every team, and usage of keys in no team. */
  teams: readonly string[] | null;
  /** `operator`, or the reading key's id (for the audit log). */
  actor: string;
}

const MAX_RANGE_MS = 3700 * 86_400_000;

/**
 * The range as instants: local dates become their midnight in `tz` (by the database's zone rules,
 * as budget windows are cut); `from` must come before `to`.
 */
export async function resolveRange(ex: Executor, spec: RangeSpec): Promise<{ from: Date; to: Date }> {
  if (!(await knownTimeZone(ex, spec.tz))) {
    throw badRequest(
      `Invalid 'tz': '${spec.tz}' is not an IANA time zone the database knows, such as "America/New_York".`,
      'tz',
      'invalid_value',
    );
  }
  const dates = [spec.from, spec.to].filter((bound): bound is { date: string } => 'date' in bound).map((bound) => bound.date);
  const midnights = await localMidnights(ex, dates, spec.tz);
  const at = (bound: Bound) => ('instant' in bound ? bound.instant : midnights[dates.indexOf(bound.date)]!);
  const from = at(spec.from);
  const to = at(spec.to);
  if (to.getTime() <= from.getTime())
    throw badRequest(`'to' must be after 'from' (the range is half-open: [from, to)).`, 'to', 'invalid_value');
  if (to.getTime() - from.getTime() > MAX_RANGE_MS) throw badRequest(`The range is longer than ten years.`, 'to', 'invalid_value');
  return { from, to };
}

/** The filters as a report echoes them: the parameters that would ask for the same thing. */
export function filtersEcho(filters: UsageFilters): Record<string, string[]> {
  const echo: Record<string, string[]> = {};
  if (filters.teams) echo.team = filters.teams.map((team) => team ?? NO_TEAM);
  if (filters.keys) echo.key = filters.keys;
  if (filters.models) echo.model = filters.models;
  if (filters.statuses) echo.status = filters.statuses;
  for (const tag of filters.tags ?? []) echo[`tag:${tag.name}`] = tag.values.map((value) => value ?? '');
  return echo;
}
