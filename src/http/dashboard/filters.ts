import { addDays, addMonths } from '../../reports/overview';
import type { Params } from '../../reports/spec';

// The pages' filters live in the URL, under the API's own parameter names (from, to, tz, team,
// key, model, status, tag:<name>), so a view can be bookmarked and shared, and its CSV link is the
// API's URL with the same query. Values are validated by the API's own parsers, not here.

export interface ViewFilters {
  from: string;
  to: string;
  tz: string;
  team: string | null;
  key: string | null;
  model: string | null;
  status: string | null;
  /** `tag:<name>` filters with a value (an empty field filters nothing). */
  tags: { name: string; value: string }[];
}

/** Today's date in `tz` by the runtime's zone data (it only picks the default range); UTC if unknown. */
export function todayIn(tz: string, now: Date): string {
  try {
    return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
  } catch {
    return now.toISOString().slice(0, 10);
  }
}

/** Ranges offered as one-click links: this month, last month, the last 7 and 30 days. */
export function presetRanges(tz: string, now: Date): { label: string; from: string; to: string }[] {
  const today = todayIn(tz, now);
  const monthStart = `${today.slice(0, 8)}01`;
  return [
    { label: 'This month', from: monthStart, to: addMonths(monthStart, 1) },
    { label: 'Last month', from: addMonths(monthStart, -1), to: monthStart },
    { label: 'Last 7 days', from: addDays(today, -6), to: addDays(today, 1) },
    { label: 'Last 30 days', from: addDays(today, -29), to: addDays(today, 1) },
  ];
}

const value = (query: Record<string, string>, name: string) => {
  const text = query[name]?.trim();
  return text ? text : null;
};

/**
 * The filters of a page's URL; the range defaults to this month in the page's zone.
 *
 * @example readFilters({ from: '2026-11-01', to: '2026-12-01', 'tag:project': 'search' }, new Date())
 */
export function readFilters(query: Record<string, string>, now: Date): ViewFilters {
  const tz = value(query, 'tz') ?? 'UTC';
  const thisMonth = presetRanges(tz, now)[0]!;
  const tags = Object.keys(query)
    .filter((name) => name.startsWith('tag:') && value(query, name) !== null)
    .sort()
    .map((name) => ({ name: name.slice(4), value: value(query, name)! }));
  return {
    from: value(query, 'from') ?? thisMonth.from,
    to: value(query, 'to') ?? thisMonth.to,
    tz,
    team: value(query, 'team'),
    key: value(query, 'key'),
    model: value(query, 'model'),
    status: value(query, 'status'),
    tags,
  };
}

/** The filters as the API's parameters (only those set). */
export function apiParams(filters: ViewFilters, extra: Record<string, string | null | undefined> = {}): Params {
  const params: Params = { from: [filters.from], to: [filters.to], tz: [filters.tz] };
  for (const name of ['team', 'key', 'model', 'status'] as const) {
    const set = filters[name];
    if (set !== null) params[name] = [set];
  }
  for (const tag of filters.tags) params[`tag:${tag.name}`] = [tag.value];
  for (const [name, set] of Object.entries(extra)) if (set !== null && set !== undefined) params[name] = [set];
  return params;
}

/** `?a=1&b=2` of parameters (empty: ''). */
export function queryOf(params: Params): string {
  const search = new URLSearchParams();
  for (const [name, values] of Object.entries(params)) for (const item of values) search.append(name, item);
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** The API URL of a report as CSV, for the same parameters. */
export function csvUrl(path: string, params: Params): string {
  return `${path}${queryOf({ ...params, format: ['csv'] })}`;
}

/**
 * The URL without its empty parameters (what a GET form sends for fields left blank), or null when
 * it has none: pages redirect there, so the address bar always holds the view's canonical URL.
 */
export function withoutEmptyParams(url: string): string | null {
  const parsed = new URL(url);
  const kept = [...parsed.searchParams.entries()].filter(([, item]) => item.trim() !== '');
  if (kept.length === [...parsed.searchParams.keys()].length) return null;
  const search = new URLSearchParams(kept).toString();
  return `${parsed.pathname}${search ? `?${search}` : ''}`;
}
