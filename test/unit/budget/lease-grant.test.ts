import { describe, expect, test } from 'vitest';
import { decideGrant, type LeasedWindow } from '../../../src/budget/lease';

const window = (fields: Partial<LeasedWindow> = {}): LeasedWindow => ({
  windowStart: new Date('2026-11-01T00:00:00Z'),
  windowEnd: new Date('2026-12-01T00:00:00Z'),
  softThresholdPct: null,
  limitCost: 1_000n,
  limitTokens: null,
  spentCost: 0n,
  reservedCost: 0n,
  spentTokens: 0,
  reservedTokens: 0,
  ...fields,
});
const ask = { minCost: 10n, minTokens: 5, wantCost: 160n, wantTokens: 80 };

describe('decideGrant: how much of a window one lease grant takes', () => {
  test('what it wants, when the window has plenty', () => {
    expect(decideGrant(window(), ask)).toEqual({ cost: 160n, tokens: 80 });
  });

  test('never more than half of what is left above the minimum, so other instances keep a share', () => {
    // Left: 1000 - 700 - 100 = 200; the minimum 10, plus half of the other 190.
    expect(decideGrant(window({ spentCost: 700n, reservedCost: 100n }), ask)).toEqual({ cost: 105n, tokens: 80 });
  });

  test('the minimum alone when that is all that is left, and nothing when even that does not fit', () => {
    expect(decideGrant(window({ spentCost: 990n }), ask)).toEqual({ cost: 10n, tokens: 80 });
    expect(decideGrant(window({ spentCost: 991n }), ask)).toBeNull();
    expect(decideGrant(window({ spentCost: 500n, reservedCost: 500n }), ask)).toBeNull();
  });

  test('a token limit is held the same way, and either limit can refuse', () => {
    const tokens = window({ limitCost: null, limitTokens: 100, spentTokens: 60, reservedTokens: 20 });
    // Left: 20 tokens; the minimum 5, plus half of the other 15.
    expect(decideGrant(tokens, ask)).toEqual({ cost: 160n, tokens: 12 });
    expect(decideGrant({ ...tokens, spentTokens: 76 }, ask)).toBeNull();
  });

  test('no limit: what it wants', () => {
    expect(decideGrant(window({ limitCost: null }), ask)).toEqual({ cost: 160n, tokens: 80 });
  });
});
