import type { CommandContext } from '../command';
import { UsageError } from '../errors';
import type { Flags, OptionSpecs } from '../flags';
import { type Cell, table } from '../format';

/** `--from/--to/--tz`: what every ranged report takes. */
export const rangeOptions: OptionSpecs = {
  from: {
    type: 'string',
    value: 'DATE',
    required: true,
    description: 'Start, inclusive: a date (local midnight in --tz) or an ISO time with offset',
  },
  to: { type: 'string', value: 'DATE', required: true, description: 'End, exclusive: a date or an ISO time with offset' },
  tz: { type: 'string', value: 'ZONE', description: 'IANA time zone for dates and buckets (default UTC)' },
};

export const filterOptions: OptionSpecs = {
  team: { type: 'string', value: 'LIST', description: "Only these team ids ('none': keys in no team)" },
  key: { type: 'string', value: 'LIST', description: 'Only these key ids' },
  model: { type: 'string', value: 'LIST', description: 'Only these models' },
  status: {
    type: 'string',
    value: 'LIST',
    description: 'Only these statuses (ok, upstream_error, client_disconnected, timeout, rejected, incomplete)',
  },
  tag: {
    type: 'string',
    value: 'NAME=V1,V2',
    multiple: true,
    description: "Only these values of a tag; an empty value is the untagged bucket ('project=' or 'project=search,'); repeatable",
  },
};

export const FORMATS = ['table', 'csv', 'json'] as const;
export type Format = (typeof FORMATS)[number];

export const formatOption = (formats: readonly string[] = FORMATS): OptionSpecs => ({
  format: { type: 'string', value: formats.join('|'), description: `Output: ${formats.join(', ')} (default table; --json means json)` },
});

/** The output format: `--format`, or json with the global `--json`. */
export function formatOf(ctx: CommandContext, formats: readonly string[] = FORMATS): string {
  const asked = ctx.flags.choice('format', formats);
  if (asked && ctx.out.json && asked !== 'json') throw new UsageError(`--json and --format ${asked} disagree.`);
  return asked ?? (ctx.out.json ? 'json' : 'table');
}

/** Range and filter flags as report query parameters. */
export function reportQuery(flags: Flags, extra: Record<string, string | undefined> = {}): URLSearchParams {
  const query = new URLSearchParams();
  const put = (name: string, value: string | undefined) => value !== undefined && query.set(name, value);
  put('from', flags.has('from') ? dateOrInstant(flags, 'from') : undefined);
  put('to', flags.has('to') ? dateOrInstant(flags, 'to') : undefined);
  put('tz', flags.timezone('tz'));
  for (const name of ['team', 'key', 'model', 'status'] as const) put(name, flags.list(name)?.join(','));
  for (const tag of flags.strings('tag')) {
    const at = tag.indexOf('=');
    if (at <= 0) throw new UsageError(`--tag must be NAME=VALUES (e.g. project=search,ads), got '${tag}'.`);
    query.set(`tag:${tag.slice(0, at)}`, tag.slice(at + 1));
  }
  for (const [name, value] of Object.entries(extra)) put(name, value);
  return query;
}

/** A bare date stays a date (the gateway reads it as local midnight in --tz); a time is normalised. */
function dateOrInstant(flags: Flags, name: string): string {
  const value = flags.string(name)!;
  return /^\d{4}-\d{2}-\d{2}$/.test(value) ? value : flags.instant(name)!;
}

interface ReportJson {
  columns: string[];
  rows: Record<string, unknown>[];
}

/** How a report cell reads in a terminal: the untagged bucket, no team and the folded rest said in words. */
export function readable(column: string, value: unknown, row: Record<string, unknown>): Cell {
  if (row.other === true && value === null && column !== 'bucketStart' && column !== 'bucketEnd') return '(other)';
  if (value === null && column.startsWith('tag:')) return '(untagged)';
  if (value === null && column === 'teamId') return '(no team)';
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return value as Cell;
}

/** A JSON report's rows as an aligned table, its columns as headers. */
export function reportTable(report: ReportJson, columns: readonly string[] = report.columns): string[] {
  return table(
    columns.map((column) => column.toUpperCase()),
    report.rows.map((row) => columns.map((column) => readable(column, row[column], row))),
  );
}
