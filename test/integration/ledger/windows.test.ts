import { describe, expect, test } from 'vitest';
import type { BudgetPeriod } from '../../../src/budget';
import { budgetWindowAt, type Store } from '../../../src/store';
import type { StoreLedger } from '../../../src/usage';
import { databases } from '../support/databases';
import { admission, createTestKey, usd, useLedgerStore } from '../support/ledger';

// Admission computes the window in its own statement from the budget row; the admin view,
// /v1/estimate and reports ask budgetWindowAt. The two must agree, DST edges included.
const cases: [BudgetPeriod, string, string][] = [
  ['day', 'UTC', '2026-11-29T10:00:00Z'],
  ['day', 'America/New_York', '2026-11-29T03:00:00Z'],
  ['day', 'Asia/Kolkata', '2026-11-29T20:00:00Z'],
  ['day', 'Europe/Berlin', '2026-03-29T12:00:00Z'],
  ['day', 'Europe/Berlin', '2026-10-25T12:00:00Z'],
  ['day', 'America/Santiago', '2026-09-06T12:00:00Z'],
  ['day', 'America/Santiago', '2026-09-05T12:00:00Z'],
  ['week', 'UTC', '2026-11-29T10:00:00Z'],
  ['week', 'Asia/Tokyo', '2026-11-29T16:00:00Z'],
  ['week', 'Europe/Berlin', '2026-10-22T12:00:00Z'],
  ['month', 'UTC', '2026-12-15T00:00:00Z'],
  ['month', 'America/Los_Angeles', '2026-03-01T07:00:00Z'],
  ['month', 'America/Los_Angeles', '2026-03-20T00:00:00Z'],
  ['total', 'Asia/Tokyo', '2026-11-29T10:00:00Z'],
];

describe.each(databases)('budget windows at admission on $name', (database) => {
  let store: Store;
  let ledger: StoreLedger;
  useLedgerStore(database, (opened) => ({ store, ledger } = opened));

  test.each(cases)('%s in %s at %s: the same window as budgetWindowAt', async (period, timezone, now) => {
    const keyId = await createTestKey(store, { limitCost: usd('1'), limitTokens: null, period, timezone });
    const startedAt = new Date(now);
    const result = await ledger.admit(admission(keyId, { startedAt }));
    expect(result.admitted).toBe(true);
    if (!result.admitted) return;
    expect(result.budget?.windowStart).toEqual((await budgetWindowAt(store, period, timezone, startedAt)).windowStart);
  });
});
