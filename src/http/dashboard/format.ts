// How the pages write numbers: money exactly as the API gave it (a decimal string), with thousands
// grouped and at least cents shown, never rounded; counts grouped; instants in the page's zone.

/**
 * `"1234.5"` → `"$1,234.50"`, `"0.000369"` → `"$0.000369"`; null → an em dash.
 *
 * @example usd('-12.5') // '-$12.50'
 */
export function usd(text: string | null | undefined): string {
  if (text === null || text === undefined) return '—';
  const negative = text.startsWith('-');
  const [whole = '0', frac = ''] = (negative ? text.slice(1) : text).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}$${grouped}.${frac.padEnd(2, '0')}`;
}

/** A count with thousands grouped; null → an em dash. */
export function count(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : value.toLocaleString('en-US');
}

/** `"12.34"` → `"12.34%"`; null → an em dash. */
export function pct(text: string | null | undefined): string {
  return text === null || text === undefined ? '—' : `${text}%`;
}

/**
 * An instant as local wall time in `tz` (`2026-11-10 07:00:00`), or the ISO text if the runtime
 * does not know the zone.
 */
export function localTime(iso: string | null, tz: string): string {
  if (iso === null) return '—';
  try {
    return new Intl.DateTimeFormat('sv-SE', {
      timeZone: tz,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    }).format(new Date(iso));
  } catch {
    return iso;
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * A bucket's label from the `bucketStart` the API wrote (local wall time with its offset): no time
 * zone arithmetic here, the database already did it.
 *
 * @example bucketLabel('2026-11-03T00:00:00-05:00', 'day') // 'Nov 3'
 */
export function bucketLabel(bucketStart: string, bucket: string): string {
  const [date = '', time = ''] = bucketStart.split('T');
  const [year, month, day] = date.split('-');
  const name = `${MONTHS[Number(month) - 1] ?? month} ${Number(day)}`;
  if (bucket === 'month') return `${MONTHS[Number(month) - 1] ?? month} ${year}`;
  if (bucket === 'week') return `wk ${name}`;
  if (bucket === 'hour') return `${name} ${time.slice(0, 5)}`;
  return name;
}
