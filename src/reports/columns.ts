import { formatUsd } from '../pricing';

// One description of a report's columns serves its JSON rows and its CSV: the same names in the
// same order, so a dashboard, a spreadsheet and the CLI read one shape.

/**
 * How a cell is written: money (bigint picodollars) as a decimal USD string, never a float;
 * `decimal` a decimal string already formatted; text guarded in CSV.
 */
export type CellKind = 'text' | 'integer' | 'money' | 'decimal' | 'instant' | 'boolean' | 'json';

export type Cell = string | number | bigint | boolean | null | Readonly<Record<string, string>>;

export interface Column<R> {
  name: string;
  kind: CellKind;
  get(row: R): Cell;
}

/** The JSON value of a cell: money as a decimal string, counts as numbers. */
export function jsonCell(kind: CellKind, value: Cell): unknown {
  if (value === null) return null;
  if (kind === 'money') return formatUsd(BigInt(value as bigint | number | string));
  if (kind === 'integer') return Number(value);
  return value;
}

/** A row as a JSON object keyed by column name, in column order. */
export function jsonRow<R>(columns: readonly Column<R>[], row: R): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const column of columns) out[column.name] = jsonCell(column.kind, column.get(row));
  return out;
}

/** Sums every report carries: counts and picodollars. */
export interface Measures {
  requests: bigint;
  promptTokens: bigint;
  completionTokens: bigint;
  cost: bigint;
}

export const ZERO: Measures = { requests: 0n, promptTokens: 0n, completionTokens: 0n, cost: 0n };

export function addMeasures(a: Measures, b: Measures): Measures {
  return {
    requests: a.requests + b.requests,
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    cost: a.cost + b.cost,
  };
}

export function sumMeasures(rows: readonly Measures[]): Measures {
  return rows.reduce<Measures>(addMeasures, ZERO);
}

/** The measure columns, last in every usage-shaped report. */
export function measureColumns<R extends Measures>(): Column<R>[] {
  return [
    { name: 'requests', kind: 'integer', get: (row) => row.requests },
    { name: 'promptTokens', kind: 'integer', get: (row) => row.promptTokens },
    { name: 'completionTokens', kind: 'integer', get: (row) => row.completionTokens },
    { name: 'cost', kind: 'money', get: (row) => row.cost },
  ];
}

/** Measures as JSON: counts as numbers, cost as a decimal USD string. */
export function measuresJson(measures: Measures) {
  return {
    requests: Number(measures.requests),
    promptTokens: Number(measures.promptTokens),
    completionTokens: Number(measures.completionTokens),
    cost: formatUsd(measures.cost),
  };
}
