import { formatUsd, PICO_PER_USD } from '../pricing';

// View models for the dashboard: ratios and changes derived from a report's totals, exactly, in
// bigint picodollars on the server (the browser is only ever given decimal strings), the period
// before a range, and the stacking of a bucketed report into chart columns.

/** A decimal USD string of ours ("12.5", "-0.000001") as picodollars. */
export function picodollarsOf(text: string): bigint {
  const negative = text.startsWith('-');
  const [whole, frac = ''] = (negative ? text.slice(1) : text).split('.');
  if (!/^\d+$/.test(whole ?? '') || !/^\d{0,12}$/.test(frac)) throw new RangeError(`not a decimal USD amount: "${text}"`);
  const value = BigInt(whole!) * PICO_PER_USD + BigInt(frac.padEnd(12, '0'));
  return negative ? -value : value;
}

/**
 * Cost per request, rounded down to the picodollar; null without requests.
 *
 * @example costPerRequest('10', 3) // '3.333333333333'
 */
export function costPerRequest(cost: string, requests: number): string | null {
  if (requests <= 0) return null;
  return formatUsd(picodollarsOf(cost) / BigInt(requests));
}

/**
 * Cost per 1,000 tokens (prompt and completion), rounded down to the picodollar; null without tokens.
 *
 * @example costPer1kTokens('0.06', 2000) // '0.03'
 */
export function costPer1kTokens(cost: string, tokens: number): string | null {
  if (tokens <= 0) return null;
  return formatUsd((picodollarsOf(cost) * 1000n) / BigInt(tokens));
}

/**
 * The change from `previous` to `current` in percent, two decimals, rounded toward zero, signed
 * ("+12.50", "-3.00"); null when there was nothing before.
 *
 * @example changePct('15', '10') // '+50.00'
 */
export function changePct(current: string, previous: string): string | null {
  const before = picodollarsOf(previous);
  if (before === 0n) return null;
  const hundredths = ((picodollarsOf(current) - before) * 10_000n) / before;
  const abs = hundredths < 0n ? -hundredths : hundredths;
  return `${hundredths < 0n ? '-' : '+'}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function dateParts(text: string): [number, number, number] {
  const match = DATE.exec(text);
  if (!match) throw new RangeError(`not a date: "${text}"`);
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

const dateText = (at: Date) => at.toISOString().slice(0, 10);

/** `date` moved by whole months (calendar arithmetic; day 1 stays day 1). */
export function addMonths(date: string, months: number): string {
  const [y, m, d] = dateParts(date);
  return dateText(new Date(Date.UTC(y, m - 1 + months, d)));
}

/** `date` moved by whole days. */
export function addDays(date: string, days: number): string {
  const [y, m, d] = dateParts(date);
  return dateText(new Date(Date.UTC(y, m - 1, d + days)));
}

/**
 * The range just before [from, to) of local dates: the previous months when both are first days
 * of a month (so November compares with October), else as many days before.
 *
 * @example previousRange('2026-11-01', '2026-12-01') // { from: '2026-10-01', to: '2026-11-01' }
 * @example previousRange('2026-11-10', '2026-11-17') // { from: '2026-11-03', to: '2026-11-10' }
 */
export function previousRange(from: string, to: string): { from: string; to: string } {
  const [fy, fm, fd] = dateParts(from);
  const [ty, tm, td] = dateParts(to);
  if (fd === 1 && td === 1) {
    const months = (ty - fy) * 12 + (tm - fm);
    return { from: addMonths(from, -months), to: from };
  }
  const days = Math.round((Date.UTC(ty, tm - 1, td) - Date.UTC(fy, fm - 1, fd)) / 86_400_000);
  return { from: addDays(from, -days), to: from };
}

/** A series of a stacked chart: its id in the report (null: no team, or untagged), label, and whether it is the folded rest. */
export interface SeriesKey {
  id: string | null;
  label: string;
  other: boolean;
}

export interface StackedColumn {
  /** The bucket's `bucketStart` as the report writes it. */
  bucket: string;
  bucketEnd: string;
  /** Picodollars per series (in `series` order), and the column's sum. */
  costs: bigint[];
  total: bigint;
  /** The report's decimal strings, per series (null: no row). */
  texts: (string | null)[];
}

export interface StackedChart {
  series: SeriesKey[];
  columns: StackedColumn[];
  /** Per series, over the range. */
  seriesTotals: bigint[];
  max: bigint;
}

/**
 * A bucketed, grouped usage report (JSON rows) laid out as stacked columns: every bucket of the
 * axis (`buckets`, empty ones included), one series per group in order of total cost, `other` last.
 *
 * @example stackColumns(report.rows, axis, (row) => ({ id: row.model, label: row.model, other: row.other === true }))
 */
export function stackColumns(
  rows: readonly Record<string, unknown>[],
  buckets: readonly { start: string; end: string }[],
  seriesOf: (row: Record<string, unknown>) => SeriesKey,
): StackedChart {
  const keyOf = (key: SeriesKey) => (key.other ? '\u0000other' : `${key.id}`);
  const series = new Map<string, { key: SeriesKey; total: bigint }>();
  const cells = new Map<string, Map<string, string>>();
  for (const row of rows) {
    const key = seriesOf(row);
    const id = keyOf(key);
    const cost = String(row.cost);
    const entry = series.get(id) ?? { key, total: 0n };
    entry.total += picodollarsOf(cost);
    series.set(id, entry);
    const bucket = String(row.bucketStart);
    const cell = cells.get(bucket) ?? new Map<string, string>();
    cell.set(id, cost);
    cells.set(bucket, cell);
  }
  const ordered = [...series.entries()].sort(
    ([, a], [, b]) => Number(a.key.other) - Number(b.key.other) || (a.total < b.total ? 1 : a.total > b.total ? -1 : 0),
  );
  const columns = buckets.map((bucket) => {
    const cell = cells.get(bucket.start);
    const texts = ordered.map(([id]) => cell?.get(id) ?? null);
    const costs = texts.map((text) => (text === null ? 0n : picodollarsOf(text)));
    return { bucket: bucket.start, bucketEnd: bucket.end, costs, texts, total: costs.reduce((a, b) => a + b, 0n) };
  });
  return {
    series: ordered.map(([, entry]) => entry.key),
    columns,
    seriesTotals: ordered.map(([, entry]) => entry.total),
    max: largest(columns.map((column) => column.total)),
  };
}

/** The largest of some amounts (0 for none); Math.max does not take bigints. */
export function largest(values: readonly bigint[]): bigint {
  let max = 0n;
  for (const value of values) if (value > max) max = value;
  return max;
}

/**
 * Round axis steps for money: 1, 2 or 5 times a power of ten picodollars, so that about `count`
 * steps cover `max`. Returns the tick values from zero.
 *
 * @example moneyTicks(37_000_000_000_000n, 4) // [0n, 10e12n, 20e12n, 30e12n, 40e12n] ($0 to $40)
 */
export function moneyTicks(max: bigint, count = 4): bigint[] {
  if (max <= 0n) return [0n, PICO_PER_USD / 100n];
  const raw = (max + BigInt(count) - 1n) / BigInt(count);
  let power = 1n;
  while (power * 10n <= raw) power *= 10n;
  const step = [1n, 2n, 5n, 10n].map((m) => m * power).find((candidate) => candidate >= raw)!;
  const ticks: bigint[] = [];
  for (let value = 0n; value < max + step; value += step) ticks.push(value);
  return ticks;
}
