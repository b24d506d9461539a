import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Admission } from '../../../src/ledger';
import { costOf } from '../../../src/pricing';
import { addPriceVersion, currentPrice, getRequest, type Store } from '../../../src/store';
import { createLedger, type StoreLedger } from '../../../src/usage';
import { databases } from '../support/databases';
import { admission, createTestKey, ledgerSums, seedTestPrices, settlement, usd } from '../support/ledger';

describe.each(databases)('usage rollup and prices on $name', (database) => {
  let store: Store;
  let ledger: StoreLedger;

  beforeAll(async () => {
    store = await database.open();
    await seedTestPrices(store);
    ledger = createLedger(store, { log: () => {}, batchSize: 16 });
  });
  afterAll(async () => {
    await ledger?.flush(5_000);
    await store?.close();
  });

  test('usage_daily equals the sum of usage_events per key, model and UTC day, to the picodollar', async () => {
    const keyIds = [
      await createTestKey(store, { limitCost: usd('100'), limitTokens: null, period: 'total', timezone: 'UTC' }),
      await createTestKey(store),
    ];
    let seed = 7;
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const admitted: { request: Admission; reservedCost: bigint; price: { promptPer1k: bigint; completionPer1k: bigint } }[] = [];
    for (let index = 0; index < 120; index++) {
      const model = index % 3 === 0 ? 'gpt-4-32k' : 'gpt-4';
      // Around UTC midnight, so rows land on two days.
      const startedAt = new Date(Date.UTC(2026, 10, 29, 23, 59, 0) + random(120_000));
      const request = admission(keyIds[index % 2]!, {
        routedModel: model,
        requestedModel: 'gpt-4',
        promptTokens: 1 + random(3000),
        maxCompletionTokens: 1 + random(500),
        startedAt,
      });
      const result = await ledger.admit(request);
      if (!result.admitted) throw new Error('expected admission');
      admitted.push({ request, reservedCost: result.reservedCost, price: result.price });
    }
    for (const { request, price } of admitted) {
      const completionTokens = random(request.maxCompletionTokens + 1);
      const statuses = ['ok', 'ok', 'ok', 'upstream_error', 'client_disconnected'] as const;
      ledger.settle(
        settlement(request.requestId, {
          status: statuses[random(statuses.length)]!,
          promptTokens: request.promptTokens,
          completionTokens,
          billedCost: costOf(price, { promptTokens: request.promptTokens, completionTokens }).total,
        }),
      );
    }
    await ledger.flush();

    const mismatches = await store.rows(sql`
      WITH events AS (
        SELECT key_id, routed_model AS model, (started_at AT TIME ZONE 'UTC')::date AS day, count(*) AS requests,
          sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens, sum(billed_cost) AS cost
        FROM usage_events WHERE status <> 'pending' GROUP BY 1, 2, 3
      )
      SELECT coalesce(e.key_id, d.key_id) AS key_id
      FROM events e FULL JOIN usage_daily d ON d.key_id = e.key_id AND d.model = e.model AND d.day = e.day
      WHERE e.requests IS DISTINCT FROM d.requests OR e.cost IS DISTINCT FROM d.cost
        OR e.prompt_tokens IS DISTINCT FROM d.prompt_tokens OR e.completion_tokens IS DISTINCT FROM d.completion_tokens`);
    expect(mismatches).toEqual([]);
    const days = await store.rows<{ day: string }>(sql`SELECT DISTINCT day::text AS day FROM usage_daily ORDER BY 1`);
    expect(days.map((row) => row.day)).toEqual(['2026-11-29', '2026-11-30']);
    for (const keyId of keyIds) {
      const sums = await ledgerSums(store, keyId);
      expect(sums.daily).toEqual(sums.events);
    }
  });

  test('a price change applies from its instant on; every row keeps the version it was billed with', async () => {
    const keyId = await createTestKey(store);
    const changeAt = new Date('2026-12-01T00:00:00Z');
    const before = admission(keyId, { startedAt: new Date('2026-11-30T23:59:59.999Z') });
    const after = admission(keyId, { startedAt: changeAt });
    const v1 = (await currentPrice(store, 'gpt-4', before.startedAt))!;
    const v2 = await addPriceVersion(store, 'gpt-4', usd('0.01'), usd('0.02'), changeAt);

    expect(await currentPrice(store, 'gpt-4', before.startedAt)).toEqual(v1);
    expect(await currentPrice(store, 'gpt-4', changeAt)).toEqual(v2);

    const first = await ledger.admit(before);
    const second = await ledger.admit(after);
    expect(first).toMatchObject({ admitted: true, price: v1, reservedCost: costOf(v1, { promptTokens: 100, completionTokens: 50 }).total });
    expect(second).toMatchObject({
      admitted: true,
      price: v2,
      reservedCost: costOf(v2, { promptTokens: 100, completionTokens: 50 }).total,
    });
    ledger.settle(settlement(before.requestId, { billedCost: costOf(v1, { promptTokens: 100, completionTokens: 20 }).total }));
    ledger.settle(settlement(after.requestId, { billedCost: costOf(v2, { promptTokens: 100, completionTokens: 20 }).total }));
    await ledger.flush();

    // A later version must not rewrite either row.
    await addPriceVersion(store, 'gpt-4', usd('0.5'), usd('0.5'), new Date('2026-12-02T00:00:00Z'));
    expect(await getRequest(store, before.requestId)).toMatchObject({
      billedCost: '0.0042',
      price: { id: v1.id, promptPer1k: '0.03', completionPer1k: '0.06' },
    });
    expect(await getRequest(store, after.requestId)).toMatchObject({
      billedCost: '0.0014',
      price: { id: v2.id, promptPer1k: '0.01', completionPer1k: '0.02' },
    });
  });
});
