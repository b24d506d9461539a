import { describe, expect, test } from 'vitest';
import { pastSoftThreshold, reservationFor } from '../../../src/budget';
import type { BudgetState } from '../../../src/ledger';
import { parseUsd } from '../../../src/pricing';

const price = { promptPer1k: parseUsd('0.03'), completionPer1k: parseUsd('0.06') };

describe('reservationFor', () => {
  test.each([
    [0, 0, 0n, 0],
    [1, 0, 30_000_000n, 1],
    [100, 50, 6_000_000_000n, 150],
    [8192, 0, 245_760_000_000n, 8192],
  ])('%i prompt + %i max completion tokens reserve %i picodollars and %i tokens', (promptTokens, maxCompletionTokens, cost, tokens) => {
    expect(reservationFor(price, promptTokens, maxCompletionTokens)).toEqual({ cost, tokens });
  });
});

const state = (fields: Partial<BudgetState>): BudgetState => ({
  windowStart: new Date(0),
  softThresholdPct: null,
  limitCost: null,
  limitTokens: null,
  spentCost: 0n,
  reservedCost: 0n,
  spentTokens: 0,
  reservedTokens: 0,
  remainingCost: null,
  remainingTokens: null,
  ...fields,
});

describe('pastSoftThreshold', () => {
  test.each<[string, BudgetState, number | null, boolean]>([
    ['no threshold', state({ limitCost: 100n, spentCost: 100n }), null, false],
    ['money below', state({ limitCost: 100n, spentCost: 70n, reservedCost: 9n }), 80, false],
    ['money exactly at', state({ limitCost: 100n, spentCost: 70n, reservedCost: 10n }), 80, true],
    ['tokens above', state({ limitTokens: 1000, spentTokens: 850 }), 80, true],
    ['tokens below', state({ limitTokens: 1000, spentTokens: 799 }), 80, false],
    ['no limits at all', state({ spentCost: 10n ** 15n }), 50, false],
  ])('%s', (_name, budget, pct, expected) => {
    expect(pastSoftThreshold(budget, pct)).toBe(expected);
  });
});
