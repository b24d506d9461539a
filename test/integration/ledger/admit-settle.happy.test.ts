import { describe, expect, test } from 'vitest';
import { formatUsd } from '../../../src/pricing';
import { getRequest, PriceMissingError, revokeKey, type Store, setBudget } from '../../../src/store';
import type { StoreLedger } from '../../../src/usage';
import { databases } from '../support/databases';
import {
  admission,
  COMPLETION_TOKEN,
  createTestKey,
  DAY_WINDOW,
  ledgerSums,
  PROMPT_TOKEN,
  settlement,
  statusCounts,
  usd,
  useLedgerStore,
  windowTotals,
} from '../support/ledger';

describe.each(databases)('ledger admit and settle on $name', (database) => {
  let store: Store;
  let ledger: StoreLedger;
  useLedgerStore(database, (opened) => ({ store, ledger } = opened));

  test('admit reserves the worst case with a pending row; settle bills the actual cost and releases the rest', async () => {
    const keyId = await createTestKey(store, { limitCost: usd('1'), limitTokens: null, period: 'day' });
    const request = admission(keyId, { promptTokens: 100, maxCompletionTokens: 50 });

    const admitted = await ledger.admit(request);

    const worstCase = 100n * PROMPT_TOKEN + 50n * COMPLETION_TOKEN;
    expect(admitted).toMatchObject({ admitted: true, reservedCost: worstCase, price: { model: 'gpt-4', promptPer1k: usd('0.03') } });
    expect(admitted.admitted && admitted.budget).toEqual({
      windowStart: DAY_WINDOW.windowStart,
      softThresholdPct: null,
      limitCost: usd('1'),
      limitTokens: null,
      spentCost: 0n,
      reservedCost: worstCase,
      spentTokens: 0,
      reservedTokens: 150,
      remainingCost: usd('1') - worstCase,
      remainingTokens: null,
    });
    expect(await getRequest(store, request.requestId)).toMatchObject({ status: 'pending', reservedCost: '0.006', billedCost: '0' });

    const billed = 100n * PROMPT_TOKEN + 20n * COMPLETION_TOKEN;
    ledger.settle(settlement(request.requestId, { completionTokens: 20, billedCost: billed }));
    expect(ledger.waiting).toBe(1);
    await ledger.flush();
    expect(ledger.waiting).toBe(0);

    expect(await getRequest(store, request.requestId)).toMatchObject({
      status: 'ok',
      promptTokens: 100,
      completionTokens: 20,
      reservedCost: '0.006',
      billedCost: '0.0042',
      overReservation: false,
      usageSource: 'upstream',
      price: { promptPer1k: '0.03', completionPer1k: '0.06' },
    });
    expect(await windowTotals(store, keyId)).toEqual({ spentCost: billed, reservedCost: 0n, spentTokens: 120, reservedTokens: 0 });
    const sums = await ledgerSums(store, keyId);
    expect(sums.daily).toEqual(sums.events);
    expect(sums.daily).toEqual({ requests: 1, cost: billed, promptTokens: 100, completionTokens: 20 });
  });

  test('settling a request twice changes nothing the second time', async () => {
    const keyId = await createTestKey(store, { limitCost: usd('1'), limitTokens: null, period: 'day' });
    const request = admission(keyId);
    await ledger.admit(request);
    const first = settlement(request.requestId, { billedCost: 1_000n });
    ledger.settle(first);
    ledger.settle({ ...first, billedCost: 999_999n }); // same batch
    await ledger.flush();
    ledger.settle({ ...first, status: 'upstream_error', billedCost: 5_000n }); // later batch
    await ledger.flush();

    expect(await getRequest(store, request.requestId)).toMatchObject({ status: 'ok', billedCost: formatUsd(1_000n) });
    expect(await windowTotals(store, keyId)).toMatchObject({ spentCost: 1_000n, reservedCost: 0n });
    expect((await ledgerSums(store, keyId)).daily).toMatchObject({ requests: 1, cost: 1_000n });
  });

  test('a key without a budget is admitted and billed with no window', async () => {
    const keyId = await createTestKey(store);
    const request = admission(keyId);
    const admitted = await ledger.admit(request);
    expect(admitted).toMatchObject({ admitted: true, budget: null });
    ledger.settle(settlement(request.requestId));
    await ledger.flush();
    expect(await getRequest(store, request.requestId)).toMatchObject({ status: 'ok', budgetWindowStart: null });
    expect(await windowTotals(store, keyId)).toEqual({ spentCost: 0n, reservedCost: 0n, spentTokens: 0, reservedTokens: 0 });
  });

  test('billing more than the reservation is billed anyway and flagged', async () => {
    const keyId = await createTestKey(store, { limitCost: usd('1'), limitTokens: null, period: 'day' });
    const request = admission(keyId, { promptTokens: 10, maxCompletionTokens: 10 });
    const admitted = await ledger.admit(request);
    expect(admitted.admitted).toBe(true);
    ledger.settle(
      settlement(request.requestId, { promptTokens: 12, completionTokens: 10, billedCost: 12n * PROMPT_TOKEN + 10n * COMPLETION_TOKEN }),
    );
    await ledger.flush();
    expect(await getRequest(store, request.requestId)).toMatchObject({
      overReservation: true,
      billedCost: formatUsd(12n * PROMPT_TOKEN + 10n * COMPLETION_TOKEN),
    });
    expect(await windowTotals(store, keyId)).toMatchObject({
      spentCost: 12n * PROMPT_TOKEN + 10n * COMPLETION_TOKEN,
      reservedCost: 0n,
      spentTokens: 22,
      reservedTokens: 0,
    });
  });

  test('revoked, expired and unknown keys are refused with no row written', async () => {
    const revoked = await createTestKey(store, { limitCost: usd('1'), limitTokens: null, period: 'day' });
    await revokeKey(store, revoked, new Date('2026-01-01T00:00:00Z'));
    for (const keyId of [revoked, 'key_unknown']) {
      const request = admission(keyId);
      expect(await ledger.admit(request)).toEqual({ admitted: false, reason: 'key_revoked' });
      expect(await getRequest(store, request.requestId)).toBeNull();
    }
    expect(await windowTotals(store, revoked)).toEqual({ spentCost: 0n, reservedCost: 0n, spentTokens: 0, reservedTokens: 0 });
  });

  test('a model with no price is an error, not an admission', async () => {
    const keyId = await createTestKey(store);
    const admitting = ledger.admit(admission(keyId, { routedModel: 'unpriced' }));
    await expect(admitting).rejects.toBeInstanceOf(PriceMissingError);
    await expect(admitting).rejects.toThrow(/no price for model "unpriced"/);
  });

  test('a rejection is one final row with cost 0, counted once in usage_daily', async () => {
    const keyId = await createTestKey(store);
    const rejection = {
      requestId: `req_rejected_${keyId}`,
      keyId,
      endpoint: 'chat.completions' as const,
      requestedModel: 'gpt-4',
      routedModel: null,
      promptTokens: 9000,
      stream: false,
      errorCode: 'context_length_exceeded',
      startedAt: new Date('2026-11-29T10:00:00Z'),
      finishedAt: new Date('2026-11-29T10:00:00Z'),
    };
    ledger.reject(rejection);
    ledger.reject(rejection);
    await ledger.flush();
    ledger.reject(rejection);
    await ledger.flush();
    expect(await getRequest(store, rejection.requestId)).toMatchObject({
      status: 'rejected',
      billedCost: '0',
      errorCode: 'context_length_exceeded',
      promptTokensEstimated: 9000,
    });
    expect(await statusCounts(store, keyId)).toEqual({ rejected: 1 });
    expect((await ledgerSums(store, keyId)).daily).toEqual({ requests: 1, cost: 0n, promptTokens: 0, completionTokens: 0 });
  });

  test('changing the limit applies to the next admission', async () => {
    const keyId = await createTestKey(store, { limitCost: 1n, limitTokens: null, period: 'day' });
    expect(await ledger.admit(admission(keyId))).toMatchObject({ admitted: false, reason: 'insufficient_quota' });
    await setBudget(store, keyId, { limitCost: usd('1'), limitTokens: null, period: 'day' });
    expect(await ledger.admit(admission(keyId))).toMatchObject({ admitted: true });
  });
});
