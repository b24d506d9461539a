import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { AdmitResult } from '../../../src/ledger';
import type { Store } from '../../../src/store';
import { createLedger, type StoreLedger } from '../../../src/usage';
import { closePeer, databases, openPeer, type TestStore } from '../support/databases';
import {
  admission,
  COMPLETION_TOKEN,
  createTestKey,
  DAY_WINDOW,
  ledgerSums,
  PROMPT_TOKEN,
  seedTestPrices,
  settlement,
  statusCounts,
  windowTotals,
} from '../support/ledger';

/** 100 prompt + 50 completion tokens at gpt-4 prices. */
const RESERVATION = 100n * PROMPT_TOKEN + 50n * COMPLETION_TOKEN;

describe.each(databases)('budget invariant on $name', (database) => {
  let store: TestStore;
  let peer: Store;
  let ledgers: StoreLedger[];

  beforeAll(async () => {
    store = await database.open();
    peer = await openPeer(store);
    await seedTestPrices(store);
    ledgers = [createLedger(store, { log: () => {} }), createLedger(peer, { log: () => {} })];
  });
  afterAll(async () => {
    for (const ledger of ledgers ?? []) await ledger.flush(5_000);
    if (peer) await closePeer(store, peer);
    await store?.close();
  });

  test('200 concurrent admissions from two instances against a budget for exactly 20: 20 admitted, then spent == limit', async () => {
    const limit = 20n * RESERVATION;
    const keyId = await createTestKey(store, { limitCost: limit, limitTokens: null, period: 'day' });

    // Watch the window while the race runs: spent + reserved <= limit at every observation.
    let racing = true;
    let observations = 0;
    const watcher = (async () => {
      while (racing) {
        const totals = await windowTotals(store, keyId);
        expect(totals.spentCost + totals.reservedCost).toBeLessThanOrEqual(limit);
        observations++;
      }
    })();
    const requests = Array.from({ length: 200 }, () => admission(keyId));
    const results = await Promise.all(requests.map((request, index) => ledgers[index % 2]!.admit(request)));
    racing = false;
    await watcher;

    const admitted = requests.filter((_, index) => results[index]!.admitted);
    expect(admitted).toHaveLength(20);
    expect(results.filter((result) => !result.admitted).every((result) => refusedForQuota(result))).toBe(true);
    expect(observations).toBeGreaterThan(0);
    expect(await windowTotals(store, keyId)).toMatchObject({ spentCost: 0n, reservedCost: limit, reservedTokens: 20 * 150 });
    expect(await statusCounts(store, keyId)).toEqual({ pending: 20 });

    for (const [index, request] of admitted.entries()) {
      ledgers[index % 2]!.settle(settlement(request.requestId, { promptTokens: 100, completionTokens: 50, billedCost: RESERVATION }));
    }
    await Promise.all(ledgers.map((ledger) => ledger.flush()));

    expect(await windowTotals(store, keyId)).toEqual({ spentCost: limit, reservedCost: 0n, spentTokens: 20 * 150, reservedTokens: 0 });
    expect(await statusCounts(store, keyId)).toEqual({ ok: 20 });
    expect(await ledgers[0]!.admit(admission(keyId))).toMatchObject({
      admitted: false,
      reason: 'insufficient_quota',
      budget: { remainingCost: 0n },
    });
  });

  test('a budget counts down to exactly zero, then refuses', async () => {
    const keyId = await createTestKey(store, { limitCost: 3n * RESERVATION, limitTokens: null, period: 'day' });
    const ledger = ledgers[0]!;
    const remaining: bigint[] = [];
    for (let index = 0; index < 3; index++) {
      const request = admission(keyId);
      const result = await ledger.admit(request);
      expect(result.admitted).toBe(true);
      remaining.push(result.admitted ? result.budget!.remainingCost! : -1n);
      ledger.settle(settlement(request.requestId, { promptTokens: 100, completionTokens: 50, billedCost: RESERVATION }));
      await ledger.flush();
    }
    expect(remaining).toEqual([2n * RESERVATION, RESERVATION, 0n]);

    const refused = await ledger.admit(admission(keyId));
    expect(refused).toEqual({
      admitted: false,
      reason: 'insufficient_quota',
      price: expect.objectContaining({ model: 'gpt-4' }),
      reservedCost: RESERVATION,
      budget: {
        windowStart: DAY_WINDOW.windowStart,
        softThresholdPct: null,
        limitCost: 3n * RESERVATION,
        limitTokens: null,
        spentCost: 3n * RESERVATION,
        reservedCost: 0n,
        spentTokens: 450,
        reservedTokens: 0,
        remainingCost: 0n,
        remainingTokens: null,
      },
    });
    // A free request (zero tokens) still fits a budget at exactly zero.
    expect(await ledger.admit(admission(keyId, { promptTokens: 0, maxCompletionTokens: 0 }))).toMatchObject({
      admitted: true,
      reservedCost: 0n,
    });
    expect(await statusCounts(store, keyId)).toEqual({ ok: 3, pending: 1 });
  });

  test('a token limit holds the same way: reserved tokens are prompt + max completion', async () => {
    const keyId = await createTestKey(store, { limitCost: null, limitTokens: 450, period: 'day' });
    const ledger = ledgers[0]!;
    const requests = Array.from({ length: 10 }, () => admission(keyId)); // 150 tokens each
    const results = await Promise.all(requests.map((request) => ledger.admit(request)));
    const admitted = requests.filter((_, index) => results[index]!.admitted);
    expect(admitted).toHaveLength(3);
    expect(await windowTotals(store, keyId)).toMatchObject({ reservedTokens: 450, spentTokens: 0 });

    for (const request of admitted) ledger.settle(settlement(request.requestId, { promptTokens: 100, completionTokens: 20 }));
    await ledger.flush();
    expect(await windowTotals(store, keyId)).toMatchObject({ reservedTokens: 0, spentTokens: 360 });

    expect(await ledger.admit(admission(keyId))).toMatchObject({
      admitted: false,
      reason: 'insufficient_quota',
      budget: { remainingTokens: 90 },
    });
    expect(await ledger.admit(admission(keyId, { promptTokens: 40, maxCompletionTokens: 50 }))).toMatchObject({
      admitted: true,
      budget: { remainingTokens: 0 },
    });
  });

  test('a request bigger than the whole limit is refused on an empty window, and writes no window row', async () => {
    const keyId = await createTestKey(store, { limitCost: RESERVATION - 1n, limitTokens: null, period: 'day' });
    expect(await ledgers[0]!.admit(admission(keyId))).toMatchObject({
      admitted: false,
      reason: 'insufficient_quota',
      budget: { spentCost: 0n, remainingCost: RESERVATION - 1n },
    });
    expect(await statusCounts(store, keyId)).toEqual({});
    const sums = await ledgerSums(store, keyId);
    expect(sums.daily.requests).toBe(0);
  });
});

function refusedForQuota(result: AdmitResult): boolean {
  return !result.admitted && result.reason === 'insufficient_quota';
}
