import { describe, expect, test } from 'vitest';
import { type Amount, failOpenFits, type Remaining } from '../../../src/budget';

const none: Amount = { cost: 0n, tokens: 0 };

describe('failOpenFits', () => {
  test.each<[string, Remaining, Amount, Amount, boolean]>([
    ['no limits at all', { cost: null, tokens: null }, { cost: 10n ** 15n, tokens: 10 ** 9 }, { cost: 1n, tokens: 1 }, true],
    ['money: worst case exactly what is left', { cost: 100n, tokens: null }, none, { cost: 100n, tokens: 5 }, true],
    ['money: one picodollar short', { cost: 99n, tokens: null }, none, { cost: 100n, tokens: 5 }, false],
    [
      'money: fits alone, not after what was admitted since',
      { cost: 100n, tokens: null },
      { cost: 60n, tokens: 0 },
      { cost: 41n, tokens: 5 },
      false,
    ],
    ['money: fits after what was admitted since', { cost: 100n, tokens: null }, { cost: 60n, tokens: 0 }, { cost: 40n, tokens: 5 }, true],
    ['money: the key is known to be over its limit', { cost: -5n, tokens: null }, none, { cost: 0n, tokens: 0 }, false],
    ['tokens: exactly what is left', { cost: null, tokens: 150 }, { cost: 0n, tokens: 50 }, { cost: 1n, tokens: 100 }, true],
    ['tokens: one short', { cost: null, tokens: 150 }, { cost: 0n, tokens: 51 }, { cost: 1n, tokens: 100 }, false],
    ['both: money fits, tokens do not', { cost: 10n ** 12n, tokens: 10 }, none, { cost: 1n, tokens: 11 }, false],
  ])('%s', (_name, remaining, since, worstCase, expected) => {
    expect(failOpenFits(remaining, since, worstCase)).toBe(expected);
  });
});
