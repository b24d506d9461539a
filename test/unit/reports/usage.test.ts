import { describe, expect, test } from 'vitest';
import { sumMeasures } from '../../../src/reports/columns';
import { foldTop, type GroupedUsage, isoWithOffset, sortRows } from '../../../src/reports/usage';

const group = (bucket: number | null, values: (string | null)[], cost: bigint, requests = 1n): GroupedUsage => ({
  bucket: bucket === null ? null : { start: new Date(bucket), end: new Date(bucket + 1), startLocal: '', endLocal: '' },
  values,
  requests,
  promptTokens: requests * 10n,
  completionTokens: requests,
  cost,
});

describe('usage rows', () => {
  test.each([
    ['2026-03-08T05:00:00Z', '2026-03-08T00:00:00', '2026-03-08T00:00:00-05:00'],
    ['2026-11-01T04:00:00Z', '2026-11-01T00:00:00', '2026-11-01T00:00:00-04:00'],
    ['2026-10-31T18:30:00Z', '2026-11-01T00:00:00', '2026-11-01T00:00:00+05:30'],
    ['2026-10-31T18:15:00Z', '2026-11-01T00:00:00', '2026-11-01T00:00:00+05:45'],
    ['2026-11-01T00:00:00Z', '2026-11-01T00:00:00', '2026-11-01T00:00:00Z'],
    ['2026-11-01T10:00:00Z', '2026-10-31T23:00:00', '2026-10-31T23:00:00-11:00'],
  ])('the instant %s at local %s reads %s', (instant, local, expected) => {
    expect(isoWithOffset(new Date(instant), local)).toBe(expected);
  });

  test('top N keeps the costliest groups over the whole range and folds the rest per bucket; nothing is lost', () => {
    const groups = [
      group(0, ['a'], 5n),
      group(0, ['b'], 9n),
      group(0, ['c'], 1n),
      group(1000, ['a'], 6n),
      group(1000, ['c'], 2n),
      group(1000, ['d'], 3n),
    ];
    const rows = sortRows(foldTop(groups, 1));
    // a: 11 over the range, b: 9; so `a` stays, everything else is `other` in its bucket.
    expect(rows.map((row) => [row.bucket?.start.getTime(), row.values, row.other, row.cost])).toEqual(
      [
        [0, [null], true, 10n],
        [0, ['a'], false, 5n],
        [1000, ['a'], false, 6n],
        [1000, [null], true, 5n],
      ].sort((x, y) => (x[0] as number) - (y[0] as number) || Number(x[2]) - Number(y[2])),
    );
    expect(sumMeasures(rows)).toEqual(sumMeasures(groups));
    expect(foldTop(groups, 100).every((row) => !row.other)).toBe(true);
  });

  test('ties in cost are broken by requests, then by value, so the same data always folds the same way', () => {
    const groups = [group(null, ['y'], 5n, 2n), group(null, ['x'], 5n, 2n), group(null, ['z'], 5n, 3n)];
    expect(
      foldTop(groups, 2)
        .filter((row) => !row.other)
        .map((row) => row.values[0]),
    ).toEqual(['x', 'z'].sort());
    expect(sortRows(foldTop(groups, 2)).map((row) => row.values[0])).toEqual(['z', 'x', null]);
  });
});
