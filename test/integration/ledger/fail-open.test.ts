import { describe, expect, test } from 'vitest';
import { currentPrice, getRequest, recordFailOpenRequests, type Store } from '../../../src/store';
import type { StoreLedger } from '../../../src/usage';
import type { FailOpenRequest } from '../../../src/usage/types';
import { databases } from '../support/databases';
import { admission, COMPLETION_TOKEN, createTestKey, DAY_WINDOW, ledgerSums, PROMPT_TOKEN, settlement, statusCounts, usd, useLedgerStore, windowTotals } from '../support/ledger';

// 100 prompt + 50 completion tokens at most; settlement() bills 100 + 20.
const WORST_CASE = 100n * PROMPT_TOKEN + 50n * COMPLETION_TOKEN;
const BILLED = settlement('').billedCost;

describe.each(databases)('fail-open rows on $name', (database) => {
  let store: Store;
  let ledger: StoreLedger;
  useLedgerStore(database, (opened) => ({ store, ledger } = opened));

  /** A fail-open request as the ledger hands it to the store, with its settlement. */
  async function failOpenRequest(keyId: string, fields: Partial<FailOpenRequest['settlement']> = {}): Promise<FailOpenRequest> {
    const request = admission(keyId);
    return { admission: request, price: (await currentPrice(store, 'gpt-4', request.startedAt))!, reservedCost: WORST_CASE, settlement: settlement(request.requestId, fields) };
  }

  const record = (requests: FailOpenRequest[]) => store.transaction((tx) => recordFailOpenRequests(tx, requests));

  test('admitted fail-open after the key was seen, its settle writes one whole final row, its spend and its rollup; a second settle bills nothing', async () => {
    const keyId = await createTestKey(store, { limitCost: usd('10'), limitTokens: null, period: 'day' });
    const seen = admission(keyId);
    expect((await ledger.admit(seen)).admitted).toBe(true);
    ledger.settle(settlement(seen.requestId));

    const blind = admission(keyId);
    expect(ledger.admitFailOpen(blind, { budgeted: true })).toMatchObject({ admitted: true, reservedCost: WORST_CASE });
    ledger.settle(settlement(blind.requestId));
    ledger.settle(settlement(blind.requestId, { billedCost: 1n }));
    await ledger.flush(5_000);

    expect(await statusCounts(store, keyId)).toEqual({ ok: 2 });
    expect(await getRequest(store, blind.requestId)).toMatchObject({
      status: 'ok', admittedFailOpen: true, overLimit: false, reservedCost: '0.006', billedCost: '0.0042', overReservation: false,
      budgetWindowStart: DAY_WINDOW.windowStart, promptTokensEstimated: 100, maxCompletionTokens: 50, promptTokens: 100, completionTokens: 20,
    });
    expect((await getRequest(store, seen.requestId))?.admittedFailOpen).toBe(false);
    expect(await windowTotals(store, keyId)).toEqual({ spentCost: BILLED * 2n, reservedCost: 0n, spentTokens: 240, reservedTokens: 0 });
    const sums = await ledgerSums(store, keyId);
    expect(sums.events).toEqual({ requests: 2, cost: BILLED * 2n, promptTokens: 200, completionTokens: 40 });
    expect(sums.daily).toEqual(sums.events);
    expect(ledger.failOpenAdmitted).toBeGreaterThanOrEqual(1);
  });

  test('written twice (a batch retried after its commit answer was lost), a request is billed once', async () => {
    const keyId = await createTestKey(store, { limitCost: usd('10'), limitTokens: null, period: 'day' });
    const request = await failOpenRequest(keyId);
    expect(await record([request])).toEqual({ written: [request.admission.requestId], idTaken: [], overLimit: [] });
    expect(await record([request])).toEqual({ written: [], idTaken: [], overLimit: [] });
    expect(await windowTotals(store, keyId)).toMatchObject({ spentCost: BILLED, spentTokens: 120 });
    const sums = await ledgerSums(store, keyId);
    expect(sums.events).toMatchObject({ requests: 1, cost: BILLED });
    expect(sums.daily).toEqual(sums.events);
  });

  test('a key without a budget gets its row and rollup, and no budget window', async () => {
    const keyId = await createTestKey(store);
    const request = await failOpenRequest(keyId);
    await record([request]);
    expect((await getRequest(store, request.admission.requestId))?.budgetWindowStart).toBeNull();
    expect(await windowTotals(store, keyId)).toEqual({ spentCost: 0n, reservedCost: 0n, spentTokens: 0, reservedTokens: 0 });
    expect((await ledgerSums(store, keyId)).daily).toMatchObject({ requests: 1, cost: BILLED });
  });

  test('a cost that takes the window over its limit is billed in full and the row is flagged over_limit', async () => {
    const keyId = await createTestKey(store, { limitCost: BILLED * 2n - 1n, limitTokens: null, period: 'day' });
    const [first, second] = [await failOpenRequest(keyId), await failOpenRequest(keyId)];
    expect((await record([first])).overLimit).toEqual([]);
    expect((await record([second])).overLimit).toEqual([second.admission.requestId]);
    expect(await windowTotals(store, keyId)).toMatchObject({ spentCost: BILLED * 2n, reservedCost: 0n });
    expect((await getRequest(store, first.admission.requestId))?.overLimit).toBe(false);
    expect((await getRequest(store, second.admission.requestId))?.overLimit).toBe(true);
  });

  test('an id another request already holds is reported, and neither that row nor the budget changes', async () => {
    const keyId = await createTestKey(store, { limitCost: usd('10'), limitTokens: null, period: 'day' });
    const taken = admission(keyId);
    await ledger.admit(taken);
    ledger.settle(settlement(taken.requestId));
    await ledger.flush(5_000);
    const request = await failOpenRequest(keyId, { billedCost: 999n });
    request.admission = { ...request.admission, requestId: taken.requestId, startedAt: new Date(taken.startedAt.getTime() + 1) };
    expect(await record([request])).toEqual({ written: [], idTaken: [taken.requestId], overLimit: [] });
    expect(await getRequest(store, taken.requestId)).toMatchObject({ admittedFailOpen: false, billedCost: '0.0042' });
    expect(await windowTotals(store, keyId)).toMatchObject({ spentCost: BILLED });
  });
});
