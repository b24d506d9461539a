import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { LedgerRepository, Settlement } from '../../../src/ledger';
import { StoreLedger } from '../../../src/usage';

// The batching writer on the clock it schedules with (fake timers), against a repository whose
// commit takes COMMIT_MS: what the database is asked to do for a given flow of final rows.
const COMMIT_MS = 4;

function recordingRepository() {
  const batches: string[][] = [];
  const repository: LedgerRepository = {
    kind: 'postgres',
    admit: () => Promise.reject(new Error('not used')),
    meterRate: () => Promise.reject(new Error('not used')),
    record: ({ settlements }) =>
      new Promise((resolve) =>
        setTimeout(() => {
          batches.push(settlements.map((settlement) => settlement.requestId));
          resolve({ overLimit: [], idTaken: [] });
        }, COMMIT_MS),
      ),
    isUnavailable: () => false,
    isPermanent: () => false,
    isDuplicateRequestId: () => false,
  };
  return { repository, batches };
}

let sequence = 0;
const settlement = (): Settlement => ({
  requestId: `req_${++sequence}`,
  keyId: 'key_a',
  startedAt: new Date('2026-11-29T10:00:00Z'),
  status: 'ok',
  promptTokens: 10,
  completionTokens: 5,
  usageSource: 'upstream',
  completionTokensEstimated: 5,
  billedCost: 1n,
  latencyMs: 1,
  ttftMs: null,
  errorCode: null,
  finishedAt: new Date('2026-11-29T10:00:01Z'),
});

describe('the ledger writer at low load', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  test('one connection finishing a request every millisecond gets a commit per flush interval, not one per commit time', async () => {
    const { repository, batches } = recordingRepository();
    const ledger = new StoreLedger(repository, { flushIntervalMs: 20, log: () => {} });
    const sent: string[] = [];
    for (let ms = 0; ms < 400; ms++) {
      const row = settlement();
      sent.push(row.requestId);
      ledger.settle(row);
      await vi.advanceTimersByTimeAsync(1);
    }
    await vi.advanceTimersByTimeAsync(100);

    // Every row written once, in order.
    expect(batches.flat()).toEqual(sent);
    // Rows that arrive during a commit wait for the interval: about 400 / (20 + 4) commits. Written
    // as soon as the previous commit ended, it was one commit per 4 rows (100 commits).
    expect(batches.length).toBeLessThanOrEqual(Math.ceil(400 / 20));
    expect(batches.length).toBeGreaterThanOrEqual(Math.floor(400 / (20 + COMMIT_MS + 1)));
  });

  test('a full batch is written at once, and flush() writes everything without waiting for the interval', async () => {
    const { repository, batches } = recordingRepository();
    const ledger = new StoreLedger(repository, { flushIntervalMs: 1_000, batchSize: 10, log: () => {} });
    for (let i = 0; i < 25; i++) ledger.settle(settlement());
    await vi.advanceTimersByTimeAsync(COMMIT_MS * 2 + 1);
    // Two full batches without waiting for the 1 s interval; the last 5 wait for it.
    expect(batches.map((batch) => batch.length)).toEqual([10, 10]);
    expect(ledger.waiting).toBe(5);

    const flushed = ledger.flush(5_000);
    await vi.advanceTimersByTimeAsync(COMMIT_MS + 1);
    await flushed;
    expect(batches.map((batch) => batch.length)).toEqual([10, 10, 5]);
    expect(ledger.waiting).toBe(0);
  });
});
