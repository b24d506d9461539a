import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createApp } from '../../../src/app';
import { defaultConfigInput, parseConfig } from '../../../src/config';
import { buildDeps } from '../../../src/gateway';
import { parseRequestsSpec, requestsAllPages } from '../../../src/reports';
import type { Store } from '../../../src/store';
import { createLedger, type StoreLedger } from '../../../src/usage';
import { databases } from '../support/databases';
import { admission, createTestKey, seedTestPrices, settlement } from '../support/ledger';
import { picodollars, readCsv } from './support';

// The requests drill-down pages by keyset with a cursor that also fixes which rows the listing
// holds (those final when its first page was read). Rows written while paging, before or after
// the cursor, never make a row appear twice or go missing.

const TOKEN = 'tgadmin_requests_test';
const DAY_START = Date.parse('2026-11-05T00:00:00Z');

describe.each(databases)('the requests drill-down on $name', (database) => {
  let store: Store;
  let ledger: StoreLedger;
  let app: ReturnType<typeof createApp>;
  let keyId: string;

  const write = async (count: number, offsetMs: (i: number) => number) => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const request = admission(keyId, { startedAt: new Date(DAY_START + offsetMs(i)) });
      await ledger.admit(request);
      ledger.settle(settlement(request.requestId));
      ids.push(request.requestId);
    }
    await ledger.flush();
    return ids;
  };
  const get = async (path: string) => {
    const response = await app.request(path, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    return response;
  };

  beforeAll(async () => {
    store = await database.open();
    await seedTestPrices(store);
    ledger = createLedger(store, { log: () => {} });
    const config = parseConfig(defaultConfigInput('http://127.0.0.1:9/v1'));
    app = createApp(
      await buildDeps({ config, store, ledger, adminToken: TOKEN, log: () => {}, now: () => new Date('2026-11-20T00:00:00Z') }),
    );
    keyId = await createTestKey(store);
  });
  afterAll(async () => {
    await ledger?.flush();
    await store?.close();
  });

  test.each(['asc', 'desc'] as const)(
    'paging %s while rows are written: every row final at the first page, once, in order',
    async (order) => {
      keyId = await createTestKey(store);
      // Several rows share a start time: the key and request id break the tie.
      const initial = await write(120, (i) => Math.floor(i / 3) * 60_000);
      const seen: string[] = [];
      const starts: string[] = [];
      let cursor: string | null = null;
      let round = 0;
      do {
        const query: string = `/reports/requests?from=2026-11-05&to=2026-11-06&key=${keyId}&limit=17&order=${order}${cursor ? `&cursor=${cursor}` : ''}`;
        const page = (await (await get(query)).json()) as { data: { requestId: string; startedAt: string }[]; nextCursor: string | null };
        seen.push(...page.data.map((row) => row.requestId));
        starts.push(...page.data.map((row) => row.startedAt));
        cursor = page.nextCursor;
        // Meanwhile: new rows before, among and after those already read.
        await write(2, (i) => (round * 7 + i * 13) * 60_000 + 30_000);
        round++;
      } while (cursor);
      expect(seen).toHaveLength(initial.length);
      expect(new Set(seen)).toEqual(new Set(initial));
      const sorted = [...starts].sort();
      expect(starts).toEqual(order === 'asc' ? sorted : sorted.reverse());
    },
  );

  test('CSV streams every row of the range, and its sums are the ledger’s', async () => {
    keyId = await createTestKey(store);
    await write(700, (i) => i * 1000);
    const response = await get(`/reports/requests?from=2026-11-05&to=2026-11-06&key=${keyId}&format=csv`);
    expect(response.headers.get('content-disposition')).toMatch(/^attachment; filename="tollgate-requests-.*\.csv"$/);
    const csv = readCsv(await response.text());
    expect(csv.header.slice(0, 4)).toEqual(['startedAt', 'finishedAt', 'recordedAt', 'requestId']);
    expect(csv.rows).toHaveLength(700);
    expect(new Set(csv.rows.map((row) => row.requestId)).size).toBe(700);
    expect(csv.sums.cost).toBe(700n * picodollars('0.0042'));
    // Page by page underneath (small pages here): the same rows, once each, in order.
    const spec = parseRequestsSpec({ from: ['2026-11-05'], to: ['2026-11-06'], key: [keyId] });
    const all = await requestsAllPages(store, spec, { teams: null, actor: 'test' }, 64);
    const streamed: string[] = [];
    for await (const page of all.pages) streamed.push(...page.map((row) => row.requestId));
    expect(streamed).toEqual(csv.rows.map((row) => row.requestId));
  });

  test('a cursor that was not given by the API is refused', async () => {
    const response = await app.request('/reports/requests?from=2026-11-05&to=2026-11-06&cursor=bm90LWEtY3Vyc29y', {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('invalid_cursor');
  });
});
