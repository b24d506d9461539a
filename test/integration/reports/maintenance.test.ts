import { sql } from 'drizzle-orm';
import { describe, expect, test } from 'vitest';
import type { Store } from '../../../src/store';
import { maintenance, type StoreLedger } from '../../../src/usage';
import { databases } from '../support/databases';
import { admission, createTestKey, settlement, useLedgerStore } from '../support/ledger';

// Reports read a local day from a compacted segment once one exists; maintenance makes them as
// days end, so no report pays for the first read.
describe.each(databases)('maintenance compacts ended days for reports on $name', (database) => {
  let store: Store;
  let ledger: StoreLedger;
  useLedgerStore(database, (opened) => ({ store, ledger } = opened));

  test('the days that ended in the configured zones become compacted segments that count every row', async () => {
    const keyId = await createTestKey(store);
    const dayAgo = (days: number, hour: number) => {
      const at = new Date();
      at.setUTCDate(at.getUTCDate() - days);
      at.setUTCHours(hour, 0, 0, 0);
      return at;
    };
    for (const startedAt of [dayAgo(3, 1), dayAgo(3, 23), dayAgo(2, 12)]) {
      const request = admission(keyId, { startedAt });
      await ledger.admit(request);
      ledger.settle(settlement(request.requestId, { finishedAt: startedAt }));
    }
    await ledger.flush();

    const report = await maintenance({ store, olderThanMs: 600_000, reportZones: ['UTC', 'Asia/Kolkata'], log: () => {} });
    expect(report.daysCompacted).toBeGreaterThanOrEqual(4);
    const segments = await store.rows<{ zone_days: number }>(sql`SELECT count(*)::int AS zone_days FROM usage_compact_segments`);
    expect(segments[0]!.zone_days).toBe(report.daysCompacted);
    // The UTC day three days ago holds two of the requests: the segment counts the rows recorded
    // up to its `through`, and a report adds the ones recorded after it from the ledger.
    const start = dayAgo(3, 0).toISOString();
    const [utc] = await store.rows<{ compacted: string; after: string }>(sql`
      WITH seg AS (SELECT * FROM usage_compact_segments WHERE segment_start = ${start}::timestamptz AND segment_end = ${start}::timestamptz + interval '1 day')
      SELECT (SELECT coalesce(sum(c.requests), 0) FROM usage_compact c JOIN seg ON c.segment_start = seg.segment_start AND c.segment_end = seg.segment_end)::text AS compacted,
        (SELECT count(*) FROM usage_events e, seg WHERE e.started_at >= seg.segment_start AND e.started_at < seg.segment_end AND e.recorded_at > seg.through)::text AS after`);
    expect(Number(utc!.compacted) + Number(utc!.after)).toBe(2);
    // Passes stay short (at most 8 days each) and end once every ended day of the lookback is done.
    let passes = 0;
    for (let made = report.daysCompacted; made > 0; passes++) {
      expect(made).toBeLessThanOrEqual(8);
      made = (await maintenance({ store, olderThanMs: 600_000, reportZones: ['UTC', 'Asia/Kolkata'], log: () => {} })).daysCompacted;
    }
    expect(passes).toBeLessThan(15);
  });
});
