import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { formatUsd, parseUsd } from '../../../src/pricing';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { startTestGateway, type TestGateway, testConfig } from '../../support/gateway';
import { databases, type TestStore } from '../support/databases';
import { ledgerSums, statusCounts } from '../support/ledger';
import { type Outage, outageFor } from '../support/outage';

// The database goes away for real on Postgres: the gateway's store talks to it through a TCP relay
// that cuts every connection and refuses new ones, then accepts again (PostgresOutage). PGlite runs
// inside this process, with no socket to cut, so there its statements fail like a refused
// connection instead: the recovery over a real network is Postgres-only by nature.
// Auth is cached for 5 s, so each test warms its keys just before the cut.
describe.each(databases)('fail-open keys on $name', (database) => {
  let backend: FakeVllm;
  let store: TestStore;
  let outage: Outage;
  let gateway: TestGateway;

  beforeAll(async () => {
    backend = await startFakeVllm({ completionTokens: 5 });
    store = await database.open();
    outage = await outageFor(store, 'up');
    gateway = await startTestGateway({ store: outage.store, config: testConfig(backend.url) });
  });
  afterAll(async () => {
    await gateway?.stop();
    await outage?.close();
    await store?.close();
    await backend?.close();
  });
  afterEach(() => backend.reset());

  const body = { model: 'gpt-4', messages: [{ role: 'user', content: 'fail open' }], max_tokens: 50 };
  const chat = (key: string, requestId?: string) =>
    fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(requestId ? { 'x-request-id': requestId } : {}) },
      body: JSON.stringify(body),
    });
  /** The worst case of `body`, as the gateway prices it. */
  const worstCase = async (key: string) =>
    parseUsd(
      (
        (await (
          await fetch(`${gateway.url}/v1/estimate`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}` },
            body: JSON.stringify(body),
          })
        ).json()) as { cost: { total: string } }
      ).cost.total,
    );
  const costOf = (response: Response) => parseUsd(response.headers.get('x-tollgate-cost')!);
  const errorCode = async (response: Response) => ((await response.json()) as { error: { code: string } }).error.code;
  const requestRow = async (id: string) => (await (await gateway.admin('GET', `/admin/requests/${id}`)).json()) as Record<string, unknown>;
  const budgetOf = async (keyId: string) =>
    (await (await gateway.admin('GET', `/admin/keys/${keyId}/budget`)).json()) as {
      limit: string;
      spent: string;
      reserved: string;
      remaining: string;
    };
  const admittedSoFar = () => gateway.ledger.failOpenAdmitted ?? 0;

  /** Runs `body` with the database unreachable, then brings it back and waits for the ledger to catch up. */
  async function whileCut<T>(body: () => Promise<T>): Promise<T> {
    await gateway.ledger.flush(5_000);
    await outage.down();
    try {
      return await body();
    } finally {
      await outage.up();
      await gateway.ledger.flush(15_000);
    }
  }

  /** A key created and used once with the database up: its auth is cached and this instance has seen its budget. */
  async function warmKey(name: string, options: Record<string, unknown>, limit?: (worstCase: bigint) => bigint) {
    const { id, key } = await gateway.createKey({ name, options });
    if (limit) await gateway.admin('PUT', `/admin/keys/${id}/budget`, { limit: formatUsd(limit(await worstCase(key))), period: 'month' });
    const warm = await chat(key);
    expect(warm.status).toBe(200);
    return { id, key, warm };
  }

  test('while the database is cut, a failOpen key is served and billed once it returns; a key without failOpen gets 503', async () => {
    const open = await warmKey('open', { failOpen: true });
    const closed = await warmKey('closed', {});
    const before = admittedSoFar();
    backend.reset();
    const [served, refused] = await whileCut(async () => [await chat(open.key, `fo-served-${open.id}`), await chat(closed.key)]);

    expect(served.status).toBe(200);
    expect(((await served.json()) as { usage: { cost: string } }).usage.cost).toBe(served.headers.get('x-tollgate-cost'));
    expect(refused.status).toBe(503);
    expect(await errorCode(refused)).toBe('ledger_unavailable');
    expect(backend.received).toHaveLength(1);
    expect(admittedSoFar()).toBe(before + 1);

    expect(await requestRow(`fo-served-${open.id}`)).toMatchObject({
      status: 'ok',
      admittedFailOpen: true,
      overLimit: false,
      billedCost: formatUsd(costOf(served)),
    });
    expect(await statusCounts(store, open.id)).toEqual({ ok: 2 });
    const sums = await ledgerSums(store, open.id);
    expect(sums.events.cost).toBe(costOf(open.warm) + costOf(served));
    expect(sums.daily).toEqual(sums.events);
  });

  test('the answer says it was admitted fail-open (x-tollgate-fail-open: 1); a normal answer does not', async () => {
    const open = await warmKey('header', { failOpen: true });
    expect(open.warm.headers.get('x-tollgate-fail-open')).toBeNull();
    const served = await whileCut(() => chat(open.key));
    expect(served.status).toBe(200);
    expect(served.headers.get('x-tollgate-fail-open')).toBe('1');
  });

  test('/admin/metrics counts fail-open admissions', async () => {
    const metric = async () =>
      ((await (await gateway.admin('GET', '/admin/metrics')).json()) as { ledger: { failOpenAdmitted: number } }).ledger.failOpenAdmitted;
    const open = await warmKey('metric', { failOpen: true });
    const before = await metric();
    expect((await whileCut(() => chat(open.key))).status).toBe(200);
    expect(await metric()).toBe(before + 1);
  });

  test('a budgeted failOpen key is admitted only while its last known remaining covers the worst case; then one exact row each, spent and usage_daily exact', async () => {
    // The warm request reserves one worst case and leaves 2.5 of them. Each fail-open request then
    // generates all its max_tokens, so costs its worst case: two fit, a third does not.
    let worst = 0n;
    const budgeted = await warmKey('budgeted', { failOpen: true }, (w) => (worst = w) * 3n + w / 2n);
    const before = admittedSoFar();
    backend.reset();
    backend.behave({ completionTokens: body.max_tokens });
    const ids = ['a', 'b', 'c'].map((suffix) => `fo-budget-${budgeted.id}-${suffix}`);
    const responses = await whileCut(async () => {
      const answered: Response[] = [];
      for (const id of ids) answered.push(await chat(budgeted.key, id));
      return answered;
    });

    expect(responses.map((response) => response.status)).toEqual([200, 200, 503]);
    const refusal = (await responses[2]!.json()) as { error: { code: string; message: string } };
    expect(refusal.error.code).toBe('ledger_unavailable');
    expect(refusal.error.message).toContain('last known budget does not cover this request');
    expect(backend.received).toHaveLength(2);
    expect(admittedSoFar()).toBe(before + 2);

    expect(await statusCounts(store, budgeted.id)).toEqual({ ok: 3 });
    for (const [index, id] of ids.slice(0, 2).entries()) {
      expect(costOf(responses[index]!)).toBe(worst);
      expect(await requestRow(id)).toMatchObject({
        status: 'ok',
        admittedFailOpen: true,
        overLimit: false,
        reservedCost: formatUsd(worst),
        billedCost: formatUsd(worst),
      });
    }
    expect((await gateway.admin('GET', `/admin/requests/${ids[2]}`)).status).toBe(404);
    const billed = costOf(budgeted.warm) + costOf(responses[0]!) + costOf(responses[1]!);
    const budget = await budgetOf(budgeted.id);
    expect(parseUsd(budget.spent)).toBe(billed);
    expect(budget.reserved).toBe('0');
    const sums = await ledgerSums(store, budgeted.id);
    expect(sums.events).toMatchObject({ requests: 3, cost: billed });
    expect(sums.daily).toEqual(sums.events);
  });

  test('a budgeted failOpen key this instance has not admitted yet gets 503', async () => {
    const { id, key } = await gateway.createKey({ name: 'unseen', options: { failOpen: true } });
    await gateway.admin('PUT', `/admin/keys/${id}/budget`, { limit: '100', period: 'month' });
    expect((await fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200); // auth cached, nothing admitted
    backend.reset();
    const refused = await whileCut(() => chat(key));
    expect(refused.status).toBe(503);
    expect(await errorCode(refused)).toBe('ledger_unavailable');
    expect(backend.received).toHaveLength(0);
    expect(await statusCounts(store, id)).toEqual({});
  });

  test('a fail-open request admitted on a stale budget (the limit was lowered since) is billed in full and its row flagged over_limit', async () => {
    const stale = await warmKey('stale', { failOpen: true }, (w) => w * 10n);
    await gateway.ledger.flush(5_000);
    // Lowered to exactly what was spent: the database would refuse anything now, this instance's memory still says 9 worst cases.
    await gateway.admin('PUT', `/admin/keys/${stale.id}/budget`, { limit: formatUsd(costOf(stale.warm)), period: 'month' });
    expect((await fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${stale.key}` } })).status).toBe(200);
    const served = await whileCut(() => chat(stale.key, `fo-over-${stale.id}`));

    expect(served.status).toBe(200);
    expect(await requestRow(`fo-over-${stale.id}`)).toMatchObject({
      admittedFailOpen: true,
      overLimit: true,
      billedCost: formatUsd(costOf(served)),
    });
    const budget = await budgetOf(stale.id);
    expect(parseUsd(budget.spent)).toBe(costOf(stale.warm) + costOf(served));
    expect(budget.remaining).toBe(`-${formatUsd(costOf(served))}`);
    // Back online, the database refuses it: the budget is spent.
    expect((await chat(stale.key)).status).toBe(429);
  });

  test('a key whose auth is not cached gets 503 ledger_unavailable while the database is cut, not a 500', async () => {
    const { key } = await gateway.createKey({ name: 'never-seen', options: { failOpen: true } });
    const response = await whileCut(() => chat(key));
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(await errorCode(response)).toBe('ledger_unavailable');
  });
});
