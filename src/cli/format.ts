/** Plain-text layout for humans: aligned tables and label/value blocks. */

export type Cell = string | number | boolean | null | undefined;

/** Shows a missing value as `-` so columns never collapse. */
export function cell(value: Cell): string {
  if (value === null || value === undefined || value === '') return '-';
  return String(value);
}

/** Columns padded to their widest cell, two spaces apart, no trailing blanks. */
export function table(headers: readonly string[], rows: readonly (readonly Cell[])[]): string[] {
  const texts = [headers, ...rows.map((row) => row.map(cell))];
  const widths = headers.map((_, col) => Math.max(...texts.map((row) => (row[col] ?? '').length)));
  return texts.map((row) =>
    row
      .map((text, col) => (col === row.length - 1 ? text : (text ?? '').padEnd(widths[col]!)))
      .join('  ')
      .trimEnd(),
  );
}

/** `label  value` lines with labels aligned, indented by `indent`. */
export function fields(entries: readonly (readonly [string, Cell])[], indent = '  '): string[] {
  const width = Math.max(...entries.map(([label]) => label.length));
  return entries.map(([label, value]) => `${indent}${label.padEnd(width)}  ${cell(value)}`.trimEnd());
}

export function list(values: readonly string[] | null | undefined, empty = 'any'): string {
  return values && values.length > 0 ? values.join(',') : empty;
}

/** Key options as `rpm=60 tpm=100000`, or `-` when none are set. */
export function keyValues(record: Record<string, unknown> | null | undefined): string {
  const entries = Object.entries(record ?? {}).filter(([, value]) => value !== undefined && value !== null);
  return entries.length === 0
    ? '-'
    : entries.map(([name, value]) => `${name}=${typeof value === 'object' ? JSON.stringify(value) : String(value)}`).join(' ');
}
