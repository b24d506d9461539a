import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Admission, Rejection } from '../../../src/ledger';
import { LedgerUnavailableError } from '../../../src/ledger';
import { createLedger, type StoreLedger } from '../../../src/usage';
import { databases, type TestStore } from '../support/databases';
import { admission, createTestKey, ledgerSums, seedTestPrices, settlement, statusCounts, usd, windowTotals } from '../support/ledger';
import { type Outage, outageFor } from '../support/outage';

describe.each(databases)('ledger while the database is away on $name', (database) => {
  let store: TestStore;
  let outage: Outage;
  let ledger: StoreLedger;
  const lines: string[] = [];

  beforeAll(async () => {
    store = await database.open();
    await seedTestPrices(store);
    outage = await outageFor(store, 'down');
    ledger = createLedger(outage.store, { log: (line) => lines.push(line), minBackoffMs: 20, maxBackoffMs: 200 });
  });
  afterAll(async () => {
    await ledger?.flush(5_000);
    await outage?.close();
    await store?.close();
  });

  test('settlements and rejections wait in memory, then land once after recovery', async () => {
    const keyId = await createTestKey(store, { limitCost: usd('10'), limitTokens: null, period: 'day' });
    // Admitted while the database was up (through the main store), settled while it is down.
    const admitted: Admission[] = [];
    const main = createLedger(store, { log: () => {} });
    for (let index = 0; index < 30; index++) {
      const request = admission(keyId);
      expect((await main.admit(request)).admitted).toBe(true);
      admitted.push(request);
    }

    await expect(ledger.admit(admission(keyId))).rejects.toBeInstanceOf(LedgerUnavailableError);

    for (const request of admitted) ledger.settle(settlement(request.requestId));
    const rejections: Rejection[] = Array.from({ length: 5 }, (_, index) => ({
      requestId: `req_rejected_${keyId}_${index}`,
      keyId,
      endpoint: 'chat.completions',
      requestedModel: 'gpt-4',
      routedModel: 'gpt-4',
      promptTokens: 10_000,
      stream: false,
      errorCode: 'context_length_exceeded',
      startedAt: new Date('2026-11-29T10:00:00Z'),
      finishedAt: new Date('2026-11-29T10:00:00Z'),
    }));
    for (const rejection of rejections) ledger.reject(rejection);
    // A second settle of the same request while waiting: still billed once.
    ledger.settle(settlement(admitted[0]!.requestId, { billedCost: 1n }));

    await ledger.flush(400); // gives up waiting, keeps everything
    expect(ledger.waiting).toBe(36);
    expect(lines.some((line) => /^tollgate: ledger waiting=36 \(database unavailable: .+\)/.test(line))).toBe(true);
    expect(await statusCounts(store, keyId)).toEqual({ pending: 30 });

    await outage.up();
    await ledger.flush(15_000);
    expect(ledger.waiting).toBe(0);

    expect(await statusCounts(store, keyId)).toEqual({ ok: 30, rejected: 5 });
    const billed = settlement('').billedCost * 30n;
    expect(await windowTotals(store, keyId)).toMatchObject({ spentCost: billed, reservedCost: 0n, reservedTokens: 0 });
    const sums = await ledgerSums(store, keyId);
    expect(sums.daily).toEqual(sums.events);
    expect(sums.events).toMatchObject({ requests: 35, cost: billed });
    await main.flush();
  });

  test('a second outage in the middle of traffic loses and doubles nothing', async () => {
    const keyId = await createTestKey(store, { limitCost: usd('10'), limitTokens: null, period: 'day' });
    const requests: Admission[] = [];
    for (let index = 0; index < 40; index++) {
      const request = admission(keyId);
      expect((await ledger.admit(request)).admitted).toBe(true);
      requests.push(request);
    }
    for (const request of requests.slice(0, 20)) ledger.settle(settlement(request.requestId));
    await outage.down();
    for (const request of requests.slice(20)) ledger.settle(settlement(request.requestId));
    await ledger.flush(300);
    await outage.up();
    await ledger.flush(15_000);

    expect(ledger.waiting).toBe(0);
    expect(await statusCounts(store, keyId)).toEqual({ ok: 40 });
    expect(await windowTotals(store, keyId)).toMatchObject({ spentCost: settlement('').billedCost * 40n, reservedCost: 0n });
    const sums = await ledgerSums(store, keyId);
    expect(sums.daily).toEqual(sums.events);
  });

  test('one bad entry is dropped with a log line and does not hold back the batch', async () => {
    const keyId = await createTestKey(store);
    const request = admission(keyId);
    await ledger.admit(request);
    // A rejection naming a key that does not exist violates the foreign key: no retry can fix it.
    ledger.reject({
      requestId: `req_bad_${keyId}`,
      keyId: 'key_missing',
      endpoint: 'embeddings',
      requestedModel: 'gpt-4',
      routedModel: null,
      promptTokens: 1,
      stream: false,
      errorCode: 'x',
      startedAt: new Date(),
      finishedAt: new Date(),
    });
    ledger.settle(settlement(request.requestId));
    await ledger.flush(5_000);
    expect(ledger.waiting).toBe(0);
    expect(await statusCounts(store, keyId)).toEqual({ ok: 1 });
    expect(lines.some((line) => line.startsWith(`tollgate: ledger dropped rejection of req_bad_${keyId}`))).toBe(true);
  });
});
