import { describe, expect, test } from 'vitest';
import { bucketLabel, usd } from '../../../src/http/dashboard/format';
import { formatUsd } from '../../../src/pricing';
import {
  changePct,
  costPer1kTokens,
  costPerRequest,
  moneyTicks,
  picodollarsOf,
  previousRange,
  stackColumns,
} from '../../../src/reports/overview';

describe('ratios and changes, exact in picodollars', () => {
  test.each([
    ['10', 3, '3.333333333333'],
    ['0.00369', 1, '0.00369'],
    ['0', 5, '0'],
    ['1', 0, null],
  ] as const)('%s over %s requests is %s each', (cost, requests, expected) => {
    expect(costPerRequest(cost, requests)).toBe(expected);
  });

  test.each([
    ['0.06', 2000, '0.03'],
    ['0.00001', 3, '0.003333333333'],
    ['1', 0, null],
  ] as const)('%s over %s tokens is %s per 1k', (cost, tokens, expected) => {
    expect(costPer1kTokens(cost, tokens)).toBe(expected);
  });

  test.each([
    ['15', '10', '+50.00'],
    ['5', '10', '-50.00'],
    ['10', '10', '+0.00'],
    ['0.000001', '0.000003', '-66.66'],
    ['3', '0', null],
  ] as const)('from %s to %s is %s%', (current, previous, expected) => {
    expect(changePct(current, previous)).toBe(expected);
  });

  test('decimal strings become picodollars without floats', () => {
    expect(picodollarsOf('0.000000000001')).toBe(1n);
    expect(picodollarsOf('-12.5')).toBe(-12_500_000_000_000n);
    expect(() => picodollarsOf('1e3')).toThrow();
  });
});

describe('the period before a range', () => {
  test.each([
    ['2026-11-01', '2026-12-01', '2026-10-01', '2026-11-01'],
    ['2026-03-01', '2026-04-01', '2026-02-01', '2026-03-01'],
    ['2026-01-01', '2026-04-01', '2025-10-01', '2026-01-01'],
    ['2026-11-10', '2026-11-17', '2026-11-03', '2026-11-10'],
    ['2026-03-01', '2026-03-15', '2026-02-15', '2026-03-01'],
  ])('[%s, %s) follows [%s, %s)', (from, to, prevFrom, prevTo) => {
    expect(previousRange(from, to)).toEqual({ from: prevFrom, to: prevTo });
  });
});

describe('stacked columns from a bucketed report', () => {
  const axis = ['2026-11-01', '2026-11-02', '2026-11-03'].map((day) => ({ start: `${day}T00:00:00Z`, end: `${day}T23:59:59Z` }));
  const rows = [
    { bucketStart: '2026-11-01T00:00:00Z', model: 'a', other: false, cost: '1.5' },
    { bucketStart: '2026-11-01T00:00:00Z', model: null, other: true, cost: '0.25' },
    { bucketStart: '2026-11-03T00:00:00Z', model: 'b', other: false, cost: '4' },
    { bucketStart: '2026-11-03T00:00:00Z', model: 'a', other: false, cost: '0.000000000001' },
  ];
  const chart = stackColumns(rows, axis, (row) => ({
    id: row.model as string | null,
    label: String(row.model ?? 'Other'),
    other: row.other === true,
  }));

  test('every bucket of the axis, empty ones included; series by total cost, other last', () => {
    expect(chart.series.map((series) => series.label)).toEqual(['b', 'a', 'Other']);
    expect(chart.columns.map((column) => column.texts)).toEqual([
      [null, '1.5', '0.25'],
      [null, null, null],
      ['4', '0.000000000001', null],
    ]);
    expect(chart.columns.map((column) => column.total)).toEqual([1_750_000_000_000n, 0n, 4_000_000_000_001n]);
    expect(chart.seriesTotals).toEqual([4_000_000_000_000n, 1_500_000_000_001n, 250_000_000_000n]);
    expect(chart.max).toBe(4_000_000_000_001n);
  });

  test.each([
    [37_000_000_000_000n, ['0', '10', '20', '30', '40']],
    [40_000_000_000_000n, ['0', '10', '20', '30', '40']],
    [18_200_000_000n, ['0', '0.005', '0.01', '0.015', '0.02']],
    [0n, ['0', '0.01']],
  ])('axis ticks for %s picodollars', (max, expected) => {
    expect(moneyTicks(max).map(formatUsd)).toEqual(expected);
  });
});

describe('how the pages write values', () => {
  test.each([
    ['1234.5', '$1,234.50'],
    ['0.000369', '$0.000369'],
    ['-12.5', '-$12.50'],
    ['1000000', '$1,000,000.00'],
    [null, '—'],
  ])('%s is written %s', (text, expected) => {
    expect(usd(text)).toBe(expected);
  });

  test.each([
    ['2026-11-03T00:00:00-05:00', 'day', 'Nov 3'],
    ['2026-11-03T14:30:00+05:30', 'hour', 'Nov 3 14:30'],
    ['2026-11-02T00:00:00Z', 'week', 'wk Nov 2'],
    ['2026-11-01T00:00:00Z', 'month', 'Nov 2026'],
  ])('bucket %s (%s) is labelled %s', (start, bucket, expected) => {
    expect(bucketLabel(start, bucket)).toBe(expected);
  });
});
