import { describe, expect, test } from 'vitest';
import { getRequest, type Store } from '../../../src/store';
import { type StoreLedger, startSweeper, sweep } from '../../../src/usage';
import { databases } from '../support/databases';
import {
  admission,
  createTestKey,
  ledgerSums,
  PROMPT_TOKEN,
  STARTED_AT,
  settlement,
  statusCounts,
  usd,
  useLedgerStore,
  windowTotals,
} from '../support/ledger';

const TIMEOUT_MS = 600_000;
const LATER = new Date(STARTED_AT.getTime() + TIMEOUT_MS + 1);

describe.each(databases)('sweeper on $name', (database) => {
  let store: Store;
  let ledger: StoreLedger;
  useLedgerStore(database, (opened) => ({ store, ledger } = opened));

  test('an abandoned pending row becomes incomplete, billed its prompt estimate, reservation released', async () => {
    const keyId = await createTestKey(store, { limitCost: usd('1'), limitTokens: null, period: 'day' });
    const request = admission(keyId, { promptTokens: 100, maxCompletionTokens: 50 });
    await ledger.admit(request);

    expect(await sweep(store, { olderThanMs: TIMEOUT_MS, now: new Date(STARTED_AT.getTime() + TIMEOUT_MS - 1) })).toBe(0);
    expect(await sweep(store, { olderThanMs: TIMEOUT_MS, now: LATER })).toBe(1);

    expect(await getRequest(store, request.requestId)).toMatchObject({
      status: 'incomplete',
      promptTokens: 100,
      completionTokens: 0,
      usageSource: 'none',
      billedCost: '0.003',
      errorCode: 'swept',
      finishedAt: LATER,
    });
    expect(await windowTotals(store, keyId)).toEqual({
      spentCost: 100n * PROMPT_TOKEN,
      reservedCost: 0n,
      spentTokens: 100,
      reservedTokens: 0,
    });
    const sums = await ledgerSums(store, keyId);
    expect(sums.daily).toEqual(sums.events);
  });

  test('a settle after the sweep is a no-op', async () => {
    const keyId = await createTestKey(store, { limitCost: usd('1'), limitTokens: null, period: 'day' });
    const request = admission(keyId);
    await ledger.admit(request);
    expect(await sweep(store, { olderThanMs: TIMEOUT_MS, now: LATER })).toBe(1);
    ledger.settle(settlement(request.requestId));
    await ledger.flush();
    expect(await getRequest(store, request.requestId)).toMatchObject({ status: 'incomplete', billedCost: '0.003' });
    expect(await windowTotals(store, keyId)).toMatchObject({ spentCost: 100n * PROMPT_TOKEN, reservedCost: 0n });
    expect((await ledgerSums(store, keyId)).daily.requests).toBe(1);
  });

  test('a sweep after the settle is a no-op', async () => {
    const keyId = await createTestKey(store, { limitCost: usd('1'), limitTokens: null, period: 'day' });
    const request = admission(keyId);
    await ledger.admit(request);
    ledger.settle(settlement(request.requestId));
    await ledger.flush();
    expect(await sweep(store, { olderThanMs: TIMEOUT_MS, now: LATER })).toBe(0);
    expect(await getRequest(store, request.requestId)).toMatchObject({ status: 'ok', billedCost: '0.0042' });
    expect(await windowTotals(store, keyId)).toMatchObject({ reservedCost: 0n });
    expect((await ledgerSums(store, keyId)).daily.requests).toBe(1);
  });

  test('a settle racing the sweep: exactly one of them counts', async () => {
    const keyId = await createTestKey(store, { limitCost: usd('10'), limitTokens: null, period: 'day' });
    const requests = Array.from({ length: 50 }, () => admission(keyId));
    for (const request of requests) await ledger.admit(request);
    for (const request of requests) ledger.settle(settlement(request.requestId));
    await Promise.all([ledger.flush(), sweep(store, { olderThanMs: TIMEOUT_MS, now: LATER, batchSize: 7 })]);

    const counts = await statusCounts(store, keyId);
    expect((counts.ok ?? 0) + (counts.incomplete ?? 0)).toBe(50);
    expect(await windowTotals(store, keyId)).toMatchObject({ reservedCost: 0n, reservedTokens: 0 });
    const sums = await ledgerSums(store, keyId);
    expect(sums.daily).toEqual(sums.events);
    expect((await windowTotals(store, keyId)).spentCost).toBe(sums.events.cost);
  });

  test('startSweeper sweeps on its interval and stops', async () => {
    const keyId = await createTestKey(store);
    const request = admission(keyId);
    await ledger.admit(request);
    const lines: string[] = [];
    const sweeper = startSweeper(store, { olderThanMs: TIMEOUT_MS, intervalMs: 10, now: () => LATER, log: (line) => lines.push(line) });
    await expect.poll(async () => (await getRequest(store, request.requestId))?.status, { timeout: 10_000 }).toBe('incomplete');
    await sweeper.stop();
    expect(lines.some((line) => line.includes('swept 1'))).toBe(true);
  });
});
