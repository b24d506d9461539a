import { describe, expect, test } from 'vitest';
import { percent, project, teamRow } from '../../../src/reports/budgets';

const windowStart = new Date('2026-11-01T00:00:00Z');
const windowEnd = new Date('2026-12-01T00:00:00Z'); // 30 days
const day = (n: number) => new Date(windowStart.getTime() + n * 86_400_000);

describe('burn-rate projection (the window’s average so far, continued)', () => {
  test.each([
    // spent, reserved, limit, day, burnPerDay, projected, exhausted on day
    [100n, 0n, 1000n, 10, 10n, 300n, null],
    [100n, 0n, 250n, 10, 10n, 300n, 25],
    [100n, 50n, 250n, 10, 10n, 300n, 20],
    [300n, 0n, 250n, 10, 30n, 900n, 10],
    [0n, 0n, 250n, 10, 0n, 0n, null],
    [100n, 0n, null, 10, 10n, 300n, null],
  ] as const)(
    'spent %s, reserved %s, limit %s on day %s: %s/day, %s at the end',
    (spent, reserved, limit, at, burn, projected, exhausted) => {
      const result = project({ spent, reserved, limit, windowStart, windowEnd, period: 'month' }, day(at));
      expect(result).toEqual({ burnPerDay: burn, projected, exhaustedAt: exhausted === null ? null : day(exhausted) });
    },
  );

  test('a total budget has no end, so no projection; the first instant of a window has no rate yet', () => {
    expect(project({ spent: 5n, reserved: 0n, limit: 10n, windowStart, windowEnd, period: 'total' }, day(3))).toEqual({
      burnPerDay: null,
      projected: null,
      exhaustedAt: null,
    });
    expect(project({ spent: 0n, reserved: 0n, limit: 10n, windowStart, windowEnd, period: 'day' }, windowStart).projected).toBeNull();
  });

  test.each([
    [0n, 100n, '0.00'],
    [1n, 3n, '33.33'],
    [9999n, 10000n, '99.99'],
    [10000n, 10000n, '100.00'],
    [15000n, 10000n, '150.00'],
    [-1n, 3n, '-33.33'],
    [1n, null, null],
    [1n, 0n, null],
  ] as const)('%s of %s is %s%', (used, limit, expected) => {
    expect(percent(used, limit)).toBe(expected);
  });

  test("a team's row sums its keys; its limit only when every key has one", () => {
    const key = (limit: bigint | null, spent: bigint) => ({
      scope: 'key' as const,
      teamId: 't',
      teamName: 'T',
      keyId: `k${spent}`,
      keyName: 'k',
      keys: 1,
      period: 'month',
      timezone: 'UTC',
      periodStart: windowStart.toISOString(),
      periodEnd: windowEnd.toISOString(),
      limit,
      spent,
      reserved: 1n,
      limitTokens: null,
      spentTokens: 0n,
      reservedTokens: 0n,
      softThresholdPct: 80,
      money: { burnPerDay: spent, projected: spent * 2n, exhaustedAt: null },
      tokens: { burnPerDay: null, projected: null, exhaustedAt: null },
    });
    expect(teamRow([key(10n, 2n), key(20n, 3n)])).toMatchObject({
      scope: 'team',
      keys: 2,
      limit: 30n,
      spent: 5n,
      reserved: 2n,
      softThresholdPct: 80,
      money: { projected: 10n },
    });
    expect(teamRow([key(10n, 2n), key(null, 3n)]).limit).toBeNull();
  });
});
