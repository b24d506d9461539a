import { TAG_KEY } from '../config';
import { badRequest } from '../errors';
import { FINAL_STATUSES, type FinalStatus } from '../ledger';

// What a report asks for, parsed from query parameters once, so the JSON, CSV and CLI forms of a
// report are the same query. Values are validated here; time zones are checked by the database,
// whose zone rules also cut budget windows.

export const BUCKETS = ['hour', 'day', 'week', 'month', 'none'] as const;
export type Bucket = (typeof BUCKETS)[number];

/** A dimension usage can be grouped and filtered by: `team`, `key`, `model`, `status`, or `tag:<name>`. */
export type Dimension = { kind: 'team' | 'key' | 'model' | 'status' } | { kind: 'tag'; name: string };

/** The parameter value `team=none` selects usage of keys in no team (team ids are `team_…`). */
export const NO_TEAM = 'none';

/** A bound of a report range: a local date in the report's zone (its midnight), or an instant. */
export type Bound = { date: string } | { instant: Date };

export interface UsageFilters {
  /** Team ids; null: keys in no team. */
  teams?: (string | null)[];
  keys?: string[];
  models?: string[];
  statuses?: FinalStatus[];
  /** Per tag name, the values kept; null: untagged (the row has no such tag). */
  tags?: { name: string; values: (string | null)[] }[];
}

export interface RangeSpec {
  from: Bound;
  to: Bound;
  /** IANA zone for dates and buckets (default UTC). */
  tz: string;
}

export interface UsageSpec extends RangeSpec {
  bucket: Bucket;
  groupBy: Dimension[];
  filters: UsageFilters;
  /** Keep the N groups that cost most; fold the rest into one `other` row per bucket. */
  top: number | null;
}

export interface RequestsSpec extends RangeSpec {
  filters: UsageFilters;
  limit: number;
  cursor: string | null;
  order: 'asc' | 'desc';
}

/** Query parameters as Hono gives them: every value of each name. */
export type Params = Record<string, string[]>;

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;
const ID = /^[A-Za-z0-9._:-]{1,128}$/;
const MAX_DIMENSIONS = 6;
const MAX_FILTER_VALUES = 1000;

/** `project` of `tag:project`, checked as a tag key. */
function tagName(param: string, text: string): string {
  const name = text.slice('tag:'.length);
  if (!TAG_KEY.test(name)) throw badRequest(`Invalid '${param}': '${text}' names no valid tag key.`, param, 'invalid_value');
  return name;
}

export function dimensionName(dimension: Dimension): string {
  return dimension.kind === 'tag' ? `tag:${dimension.name}` : dimension.kind;
}

function parseDimension(text: string): Dimension {
  if (text === 'team' || text === 'key' || text === 'model' || text === 'status') return { kind: text };
  if (text.startsWith('tag:')) return { kind: 'tag', name: tagName('groupBy', text) };
  throw badRequest(`Invalid 'groupBy': '${text}' is not one of team, key, model, status, tag:<name>.`, 'groupBy', 'invalid_value');
}

/** The one value of a parameter (a repeated one is refused: which would count?). */
function single(params: Params, name: string): string | undefined {
  const values = params[name];
  if (values === undefined || values.length === 0) return undefined;
  if (values.length > 1) throw badRequest(`'${name}' is given ${values.length} times; give it once.`, name, 'invalid_value');
  return values[0];
}

/** A comma-separated list; repeated parameters add to it. */
function list(params: Params, name: string): string[] | undefined {
  const values = params[name];
  if (values === undefined) return undefined;
  const items = values.flatMap((value) => value.split(',')).map((item) => item.trim());
  if (items.length > MAX_FILTER_VALUES) throw badRequest(`'${name}' lists more than ${MAX_FILTER_VALUES} values.`, name, 'invalid_value');
  return items;
}

function ids(params: Params, name: string): string[] | undefined {
  const items = list(params, name);
  for (const item of items ?? []) {
    if (!ID.test(item)) throw badRequest(`Invalid '${name}': '${item}' is not an id.`, name, 'invalid_value');
  }
  return items;
}

function parseBound(params: Params, name: 'from' | 'to'): Bound {
  const text = single(params, name);
  if (text === undefined)
    throw badRequest(`'${name}' is required (a date such as 2026-03-01, or an ISO 8601 time with offset).`, name, 'missing_parameter');
  if (DATE.test(text) && !Number.isNaN(Date.parse(`${text}T00:00:00Z`))) return { date: text };
  const instant = INSTANT.test(text) ? new Date(text) : null;
  if (!instant || Number.isNaN(instant.getTime())) {
    throw badRequest(
      `Invalid '${name}': '${text}' is neither a date (2026-03-01) nor an ISO 8601 time with offset (2026-03-01T00:00:00Z).`,
      name,
      'invalid_value',
    );
  }
  return { instant };
}

function parseRange(params: Params): RangeSpec {
  const tz = single(params, 'tz') ?? 'UTC';
  if (tz.length > 64 || !/^[A-Za-z0-9_+\-/]+$/.test(tz))
    throw badRequest(`Invalid 'tz': '${tz}' is not an IANA time zone.`, 'tz', 'invalid_value');
  return { from: parseBound(params, 'from'), to: parseBound(params, 'to'), tz };
}

/** Filters for team, key, model, status and `tag:<name>` parameters. */
export function parseFilters(params: Params): UsageFilters {
  const filters: UsageFilters = {};
  const teams = ids(params, 'team');
  if (teams) filters.teams = teams.map((team) => (team === NO_TEAM ? null : team));
  const keys = ids(params, 'key');
  if (keys) filters.keys = keys;
  const models = list(params, 'model');
  if (models) {
    if (models.some((model) => model === '' || model.length > 256))
      throw badRequest(`Invalid 'model': an empty or over-long model name.`, 'model', 'invalid_value');
    filters.models = models;
  }
  const statuses = list(params, 'status');
  if (statuses) {
    const unknown = statuses.filter((status) => !(FINAL_STATUSES as readonly string[]).includes(status));
    if (unknown.length > 0)
      throw badRequest(`Invalid 'status': '${unknown[0]}' is not one of ${FINAL_STATUSES.join(', ')}.`, 'status', 'invalid_value');
    filters.statuses = statuses as FinalStatus[];
  }
  for (const param of Object.keys(params).filter((name) => name.startsWith('tag:'))) {
    // The empty item is the untagged bucket: tag values are never empty.
    const values = list(params, param)!.map((value) => (value === '' ? null : value));
    if (values.some((value) => value !== null && value.length > 256))
      throw badRequest(`Invalid '${param}': a value is over 256 characters.`, param, 'invalid_value');
    (filters.tags ??= []).push({ name: tagName(param, param), values });
  }
  return filters;
}

function refuseUnknown(params: Params, known: readonly string[]): void {
  for (const name of Object.keys(params)) {
    if (!known.includes(name) && !name.startsWith('tag:')) {
      throw badRequest(`Unknown parameter '${name}' (known: ${known.join(', ')}, tag:<name>).`, name, 'unknown_parameter');
    }
  }
}

function integer(params: Params, name: string, min: number, max: number): number | undefined {
  const text = single(params, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max)
    throw badRequest(`Invalid '${name}': a whole number from ${min} to ${max}.`, name, 'invalid_value');
  return value;
}

const FILTER_PARAMS = ['team', 'key', 'model', 'status'] as const;

/**
 * `GET /reports/usage` parameters.
 *
 * @example
 * parseUsageSpec({ from: ['2026-03-01'], to: ['2026-04-01'], tz: ['America/New_York'], bucket: ['day'], groupBy: ['team,tag:project'] })
 */
export function parseUsageSpec(params: Params): UsageSpec {
  refuseUnknown(params, ['from', 'to', 'tz', 'bucket', 'groupBy', 'top', 'format', ...FILTER_PARAMS]);
  const bucket = single(params, 'bucket') ?? 'none';
  if (!(BUCKETS as readonly string[]).includes(bucket))
    throw badRequest(`Invalid 'bucket': one of ${BUCKETS.join(', ')}.`, 'bucket', 'invalid_value');
  const groupBy = (list(params, 'groupBy') ?? []).filter((item) => item !== '').map(parseDimension);
  const names = groupBy.map(dimensionName);
  if (new Set(names).size !== names.length) throw badRequest(`Invalid 'groupBy': a dimension is given twice.`, 'groupBy', 'invalid_value');
  if (groupBy.length > MAX_DIMENSIONS)
    throw badRequest(`Invalid 'groupBy': at most ${MAX_DIMENSIONS} dimensions.`, 'groupBy', 'invalid_value');
  const top = integer(params, 'top', 1, 10_000) ?? null;
  if (top !== null && groupBy.length === 0) throw badRequest(`'top' needs 'groupBy': the top what?`, 'top', 'invalid_value');
  return { ...parseRange(params), bucket: bucket as Bucket, groupBy, filters: parseFilters(params), top };
}

/** `GET /reports/requests` parameters. */
export function parseRequestsSpec(params: Params): RequestsSpec {
  refuseUnknown(params, ['from', 'to', 'tz', 'limit', 'cursor', 'order', 'format', ...FILTER_PARAMS]);
  const order = single(params, 'order') ?? 'asc';
  if (order !== 'asc' && order !== 'desc') throw badRequest(`Invalid 'order': asc or desc.`, 'order', 'invalid_value');
  const cursor = single(params, 'cursor') ?? null;
  return { ...parseRange(params), filters: parseFilters(params), limit: integer(params, 'limit', 1, 1000) ?? 100, cursor, order };
}

/** `from`/`to`/`tz` alone (reconcile, reprice, audit). */
export function parseRangeSpec(params: Params, extra: readonly string[] = []): RangeSpec & { params: Params } {
  refuseUnknown(params, ['from', 'to', 'tz', 'format', ...extra]);
  return { ...parseRange(params), params };
}

/** The first value of an optional parameter, for routes with a few extra ones. */
export function optionalParam(params: Params, name: string): string | undefined {
  return single(params, name);
}

/** `yyyy-mm` of a period. */
export function parsePeriod(text: string): string {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(text))
    throw badRequest(`Invalid period '${text}': a month such as 2026-10.`, 'period', 'invalid_value');
  return text;
}
