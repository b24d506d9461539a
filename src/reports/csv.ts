import { type Cell, type CellKind, type Column, jsonCell } from './columns';

// RFC 4180 CSV: CRLF line ends, a header row, fields quoted when they hold a comma, a quote or a
// line break (quotes doubled). Text a spreadsheet would read as a formula (=, +, -, @, tab, CR
// first) gets a leading apostrophe, so a key named `=HYPERLINK(…)` shows as text and never runs.
// Numbers and money are ours, never user text, and are written as they are.

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** A text cell made inert for spreadsheets, then quoted as RFC 4180 needs. */
export function csvText(text: string): string {
  const inert = FORMULA_START.test(text) ? `'${text}` : text;
  return NEEDS_QUOTES.test(inert) || inert !== text ? `"${inert.replaceAll('"', '""')}"` : inert;
}

/** One cell as CSV: empty for null, money as a decimal string, JSON for tag sets. */
export function csvCell(kind: CellKind, value: Cell): string {
  if (value === null) return '';
  switch (kind) {
    case 'money':
      return String(jsonCell(kind, value));
    case 'integer':
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'decimal':
    case 'instant':
      return String(value);
    case 'json':
      return csvText(JSON.stringify(value));
    case 'text':
      return csvText(String(value));
  }
}

/** The header line, CRLF-terminated. */
export function csvHeader<R>(columns: readonly Column<R>[]): string {
  return `${columns.map((column) => csvText(column.name)).join(',')}\r\n`;
}

/** One record, CRLF-terminated. */
export function csvLine<R>(columns: readonly Column<R>[], row: R): string {
  return `${columns.map((column) => csvCell(column.kind, column.get(row))).join(',')}\r\n`;
}

/**
 * A CSV body streamed as its rows arrive: the header, then each page of rows as one chunk, so a
 * report of millions of rows never sits in memory whole.
 *
 * @example
 * new Response(csvStream(columns, pages()), { headers: { 'content-type': 'text/csv; charset=utf-8' } })
 */
export function csvStream<R>(
  columns: readonly Column<R>[],
  pages: AsyncIterable<readonly R[]> | Iterable<readonly R[]>,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const iterator = Symbol.asyncIterator in pages ? pages[Symbol.asyncIterator]() : toAsync(pages[Symbol.iterator]());
  let headerSent = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!headerSent) {
        headerSent = true;
        controller.enqueue(encoder.encode(csvHeader(columns)));
        return;
      }
      // An empty page enqueues nothing, and a pull that enqueues nothing is not called again: skip it.
      for (;;) {
        const next = await iterator.next();
        if (next.done) return controller.close();
        if (next.value.length === 0) continue;
        controller.enqueue(encoder.encode(next.value.map((row) => csvLine(columns, row)).join('')));
        return;
      }
    },
    async cancel() {
      await iterator.return?.();
    },
  });
}

function toAsync<T>(iterator: Iterator<T>): AsyncIterator<T> {
  return {
    next: async () => iterator.next(),
    return: async () => iterator.return?.() ?? { done: true, value: undefined },
  };
}

/**
 * Parses CSV this module writes (RFC 4180), for tests and the CLI: rows of fields, quotes undone.
 *
 * @example parseCsv('a,b\r\n"x,1",2\r\n') // [['a', 'b'], ['x,1', '2']]
 */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(field);
      field = '';
    } else if (char === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += char;
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows;
}
