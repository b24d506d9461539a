import { describe, expect, test } from 'vitest';
import type { Admission, AdmitResult, BudgetState } from '../../../src/ledger';
import { type Price, parseUsd } from '../../../src/pricing';
import { FailOpenAllowance } from '../../../src/usage';

// gpt-4 at $0.03 / $0.06 per 1k: 100 prompt + 50 completion tokens cost at most $0.006.
const price: Price = {
  id: 1,
  model: 'gpt-4',
  promptPer1k: parseUsd('0.03'),
  completionPer1k: parseUsd('0.06'),
  effectiveFrom: new Date(0),
};
const WORST = parseUsd('0.006');

let sequence = 0;
const admission = (keyId = 'key_a'): Admission => ({
  requestId: `req_${++sequence}`,
  keyId,
  endpoint: 'chat.completions',
  requestedModel: 'gpt-4',
  routedModel: 'gpt-4',
  backend: 'gpu-a',
  promptTokens: 100,
  maxCompletionTokens: 50,
  stream: false,
  startedAt: new Date('2026-11-29T10:00:00Z'),
});

const budget = (remainingCost: bigint | null, remainingTokens: number | null = null): BudgetState => ({
  windowStart: new Date(0),
  softThresholdPct: null,
  limitCost: null,
  limitTokens: null,
  spentCost: 0n,
  reservedCost: 0n,
  spentTokens: 0,
  reservedTokens: 0,
  remainingCost,
  remainingTokens,
});
const admitted = (state: BudgetState | null): AdmitResult => ({ admitted: true, price, reservedCost: WORST, budget: state });

describe('FailOpenAllowance', () => {
  test('knows no price before any admission of the model, so it admits nothing', () => {
    expect(new FailOpenAllowance().grant(admission(), false)).toEqual({ admitted: false, reason: 'price_unknown' });
  });

  test('an unbudgeted key is admitted; a budgeted one with no known state is not', () => {
    const allowance = new FailOpenAllowance();
    allowance.observe(admission('key_free'), admitted(null), 0);
    expect(allowance.grant(admission('key_free'), false)).toEqual({ admitted: true, price, reservedCost: WORST });
    expect(allowance.grant(admission('key_never_seen'), true)).toEqual({ admitted: false, reason: 'budget_unknown' });
    // Auth says the key has a budget now although none was seen at its last admission.
    expect(allowance.grant(admission('key_free'), true)).toEqual({ admitted: false, reason: 'budget_unknown' });
  });

  test('admits worst cases until they use up what was left, then refuses', () => {
    const allowance = new FailOpenAllowance();
    allowance.observe(admission(), admitted(budget(WORST * 2n)), 0);
    expect(allowance.grant(admission(), true).admitted).toBe(true);
    expect(allowance.grant(admission(), true).admitted).toBe(true);
    expect(allowance.grant(admission(), true)).toEqual({ admitted: false, reason: 'over_budget' });
  });

  test('a key refused for its budget, or revoked, is never admitted fail-open', () => {
    const allowance = new FailOpenAllowance();
    allowance.observe(
      admission('key_poor'),
      { admitted: false, reason: 'insufficient_quota', price, reservedCost: WORST, budget: budget(WORST - 1n) },
      0,
    );
    expect(allowance.grant(admission('key_poor'), true)).toEqual({ admitted: false, reason: 'over_budget' });
    allowance.observe(admission('key_gone'), admitted(null), 0);
    allowance.observe(admission('key_gone'), { admitted: false, reason: 'key_revoked' }, 0);
    expect(allowance.grant(admission('key_gone'), false)).toEqual({ admitted: false, reason: 'key_revoked' });
  });

  test('a settled request counts its real cost instead of its worst case', () => {
    const allowance = new FailOpenAllowance();
    allowance.observe(admission(), admitted(budget(WORST * 2n)), 0);
    const first = admission();
    allowance.grant(first, true);
    allowance.settled(first.keyId, first.requestId, { cost: 0n, tokens: 0 });
    expect(allowance.grant(admission(), true).admitted).toBe(true);
    expect(allowance.grant(admission(), true).admitted).toBe(true);
  });

  test('what was admitted fail-open keeps counting until an admission that began after its row was written reports', () => {
    const allowance = new FailOpenAllowance();
    allowance.observe(admission(), admitted(budget(WORST)), 0);
    const blind = admission();
    expect(allowance.grant(blind, true).admitted).toBe(true);
    allowance.written([blind], 1);
    // Began before the write (epoch 0): its budget does not include the row, so the row still counts.
    allowance.observe(admission(), admitted(budget(WORST)), 0);
    expect(allowance.grant(admission(), true)).toEqual({ admitted: false, reason: 'over_budget' });
    // Began after it (epoch 1): the database's answer includes it.
    const later = new FailOpenAllowance();
    later.observe(admission(), admitted(budget(WORST)), 0);
    const written = admission();
    later.grant(written, true);
    later.written([written], 1);
    later.observe(admission(), admitted(budget(WORST)), 1);
    expect(later.grant(admission(), true).admitted).toBe(true);
  });

  test('an older report arriving late does not replace a newer one', () => {
    const allowance = new FailOpenAllowance();
    allowance.observe(admission(), admitted(budget(0n)), 3);
    allowance.observe(admission(), admitted(budget(WORST * 10n)), 2);
    expect(allowance.grant(admission(), true)).toEqual({ admitted: false, reason: 'over_budget' });
  });

  test('past maxKeys the least recently seen key is forgotten, and then fails closed', () => {
    const allowance = new FailOpenAllowance(2);
    for (const keyId of ['key_1', 'key_2', 'key_3']) allowance.observe(admission(keyId), admitted(budget(WORST)), 0);
    expect(allowance.grant(admission('key_1'), true)).toEqual({ admitted: false, reason: 'budget_unknown' });
    expect(allowance.grant(admission('key_3'), true).admitted).toBe(true);
  });
});
