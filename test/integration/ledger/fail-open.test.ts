import { describe, expect, test } from 'vitest';
import type { Admission, Settlement } from '../../../src/ledger';
import { currentPrice, getRequest, recordFinalRows, type Store } from '../../../src/store';
import { createLedger, FailOpenLedger, type StoreLedger } from '../../../src/usage';
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
import { storeWithOutage } from '../support/outage';

// 100 prompt + 50 completion tokens at most; settlement() bills 100 + 20.
const WORST_CASE = 100n * PROMPT_TOKEN + 50n * COMPLETION_TOKEN;
const BILLED = settlement('').billedCost;

describe.each(databases)('fail-open rows on $name', (database) => {
  let store: Store;
  let ledger: StoreLedger;
  useLedgerStore(database, (opened) => ({ store, ledger } = opened));

  /** A request admitted fail-open, as the meter settles it: its whole row goes with its outcome. */
  async function failOpenSettlement(
    keyId: string,
    fields: Partial<Settlement> = {},
    request: Admission = admission(keyId),
  ): Promise<Settlement> {
    const price = (await currentPrice(store, 'gpt-4', request.startedAt))!;
    return {
      ...settlement(request.requestId, fields),
      row: { admission: request, priceId: price.id, reservedCost: WORST_CASE, admittedFailOpen: true },
    };
  }

  const record = (settlements: Settlement[]) => store.transaction((tx) => recordFinalRows(tx, settlements, []));

  test('admitted fail-open after the key was seen, its settle writes one whole final row, its spend and its rollup; a second settle bills nothing', async () => {
    const keyId = await createTestKey(store, { limitCost: usd('10'), limitTokens: null, period: 'day' });
    const outage = storeWithOutage(store);
    let failOpen: FailOpenLedger | undefined;
    const inner = createLedger(outage.store, { log: () => {}, onCommit: (commit) => failOpen?.committed(commit) });
    failOpen = new FailOpenLedger(inner, { log: () => {} });
    const seen = admission(keyId, { failOpen: { budgeted: true } });
    expect((await failOpen.admit(seen)).admitted).toBe(true);
    failOpen.settle(settlement(seen.requestId));
    await failOpen.flush(5_000);

    outage.down();
    const blind = admission(keyId, { failOpen: { budgeted: true } });
    const admitted = await failOpen.admit(blind);
    expect(admitted).toMatchObject({ admitted: true, reservedCost: WORST_CASE, failOpen: true });
    if (!admitted.admitted) return;
    const row = { admission: blind, priceId: admitted.price.id, reservedCost: admitted.reservedCost, admittedFailOpen: true };
    failOpen.settle({ ...settlement(blind.requestId), row });
    failOpen.settle({ ...settlement(blind.requestId, { billedCost: 1n }), row });
    outage.up();
    await failOpen.flush(5_000);

    expect(await statusCounts(store, keyId)).toEqual({ ok: 2 });
    expect(await getRequest(store, blind.requestId)).toMatchObject({
      status: 'ok',
      admittedFailOpen: true,
      overLimit: false,
      reservedCost: '0.006',
      billedCost: '0.0042',
      overReservation: false,
      budgetWindowStart: DAY_WINDOW.windowStart,
      promptTokensEstimated: 100,
      maxCompletionTokens: 50,
      promptTokens: 100,
      completionTokens: 20,
    });
    expect((await getRequest(store, seen.requestId))?.admittedFailOpen).toBe(false);
    expect(await windowTotals(store, keyId)).toEqual({ spentCost: BILLED * 2n, reservedCost: 0n, spentTokens: 240, reservedTokens: 0 });
    const sums = await ledgerSums(store, keyId);
    expect(sums.events).toEqual({ requests: 2, cost: BILLED * 2n, promptTokens: 200, completionTokens: 40 });
    expect(sums.daily).toEqual(sums.events);
    expect(failOpen.failOpenAdmitted).toBe(1);
  });

  test('written twice (a batch retried after its commit answer was lost), a request is billed once', async () => {
    const keyId = await createTestKey(store, { limitCost: usd('10'), limitTokens: null, period: 'day' });
    const request = await failOpenSettlement(keyId);
    expect(await record([request])).toEqual({ idTaken: [], overLimit: [] });
    expect(await record([request])).toEqual({ idTaken: [], overLimit: [] });
    expect(await statusCounts(store, keyId)).toEqual({ ok: 1 });
    expect(await windowTotals(store, keyId)).toMatchObject({ spentCost: BILLED, spentTokens: 120 });
    const sums = await ledgerSums(store, keyId);
    expect(sums.events).toMatchObject({ requests: 1, cost: BILLED });
    expect(sums.daily).toEqual(sums.events);
  });

  test('a key without a budget gets its row and rollup, and no budget window', async () => {
    const keyId = await createTestKey(store);
    const request = await failOpenSettlement(keyId);
    await record([request]);
    expect((await getRequest(store, request.requestId))?.budgetWindowStart).toBeNull();
    expect(await windowTotals(store, keyId)).toEqual({ spentCost: 0n, reservedCost: 0n, spentTokens: 0, reservedTokens: 0 });
    expect((await ledgerSums(store, keyId)).daily).toMatchObject({ requests: 1, cost: BILLED });
  });

  test('a cost that takes the window over its limit is billed in full and the row is flagged over_limit', async () => {
    const keyId = await createTestKey(store, { limitCost: BILLED * 2n - 1n, limitTokens: null, period: 'day' });
    const [first, second] = [await failOpenSettlement(keyId), await failOpenSettlement(keyId)];
    expect((await record([first])).overLimit).toEqual([]);
    expect((await record([second])).overLimit).toEqual([{ requestId: second.requestId, keyId, windowStart: DAY_WINDOW.windowStart }]);
    expect(await windowTotals(store, keyId)).toMatchObject({ spentCost: BILLED * 2n, reservedCost: 0n });
    expect((await getRequest(store, first.requestId))?.overLimit).toBe(false);
    expect((await getRequest(store, second.requestId))?.overLimit).toBe(true);
  });

  test('an id another request of the key already holds is reported, and neither that row nor the budget changes', async () => {
    const keyId = await createTestKey(store, { limitCost: usd('10'), limitTokens: null, period: 'day' });
    const taken = admission(keyId);
    await ledger.admit(taken);
    ledger.settle(settlement(taken.requestId));
    await ledger.flush(5_000);
    const other = { ...taken, startedAt: new Date(taken.startedAt.getTime() + 1) };
    const request = await failOpenSettlement(keyId, { billedCost: 999n, startedAt: other.startedAt }, other);
    expect(await record([request])).toEqual({ idTaken: [taken.requestId], overLimit: [] });
    expect(await getRequest(store, taken.requestId)).toMatchObject({ admittedFailOpen: false, billedCost: '0.0042' });
    expect(await windowTotals(store, keyId)).toMatchObject({ spentCost: BILLED });
  });

  test('a fail-open row whose late admission did commit finalizes that pending row once: reservation released, billed once', async () => {
    const keyId = await createTestKey(store, { limitCost: usd('10'), limitTokens: null, period: 'day' });
    const request = admission(keyId);
    expect((await ledger.admit(request)).admitted).toBe(true);
    expect(await windowTotals(store, keyId)).toMatchObject({ reservedCost: WORST_CASE });
    await record([await failOpenSettlement(keyId, {}, request)]);
    expect(await getRequest(store, request.requestId)).toMatchObject({ status: 'ok', admittedFailOpen: true, billedCost: '0.0042' });
    expect(await windowTotals(store, keyId)).toEqual({ spentCost: BILLED, reservedCost: 0n, spentTokens: 120, reservedTokens: 0 });
  });
});
