import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { formatUsd, parseUsd } from '../../../src/pricing';
import { openStore, type Store } from '../../../src/store';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { type GatewayProcess, startGatewayProcess } from '../../support/gateway';
import { adminOf, chat, chatInit, ledgerRows, pendingCount, processConfig, waitFor, windowOf } from '../../support/resilience';
import { createPostgresDatabase, postgresAvailable } from '../support/databases';

// Budget leases (TOLLGATE_LEASE_MS): each instance admits against a slice of the key's window it
// holds, with no round trip per request. The promises: a window is never passed, at any instant,
// across instances; every request it served has exactly one final row; unused slices go back when
// they expire, at a clean stop, and after a SIGKILL (the documented exposure: that instance's
// requests in flight leave no row and are not billed, and nothing it held is lost to the budget).
describe.runIf(postgresAvailable)('budget leases on two instances sharing one Postgres', () => {
  let backend: FakeVllm;
  let database: { url: string; drop(): Promise<void> };
  let store: Store;
  const gateways: GatewayProcess[] = [];
  let config: unknown;
  let env: Record<string, string>;

  beforeAll(async () => {
    backend = await startFakeVllm({ completionTokens: 5 });
    database = await createPostgresDatabase();
    store = await openStore({ databaseUrl: database.url });
    config = processConfig(backend.url);
    // A lease is read again after 300 ms; instances beat every 500 ms and are gone after 1.5 s of silence.
    env = { DATABASE_URL: database.url, TOLLGATE_LEASE_MS: '300', TOLLGATE_HEARTBEAT_MS: '500', TOLLGATE_OWNER_SILENT_MS: '1500' };
    gateways.push(await startGatewayProcess({ env, config }), await startGatewayProcess({ env, config }));
  });
  afterAll(async () => {
    for (const gateway of gateways) await gateway.stop().catch(() => {});
    await store?.close();
    await database?.drop();
    await backend?.close();
  });

  const admin = () => adminOf(gateways[0]!);
  /** The worst case of one 5-token chat: what each one reserves, and (the backend answers 5 tokens) what it is billed. */
  async function oneRequest(key: string): Promise<bigint> {
    const estimate = await fetch(`${gateways[1]!.url}/v1/estimate`, chatInit(key, { maxTokens: 5 }));
    return parseUsd(((await estimate.json()) as { cost: { total: string } }).cost.total);
  }
  const leasesOf = async (keyId: string) =>
    store.rows<{ instance_id: string; cost: string }>(
      sql`SELECT instance_id, cost::text AS cost FROM budget_leases WHERE key_id = ${keyId}`,
    );

  test('a budget for exactly 20: bursts on both never pass it; in all exactly 20 are served, each with one ok row, and nothing stays reserved', async () => {
    const { id, key } = await admin().createKey('leased');
    const one = await oneRequest(key);
    const limit = one * 20n;
    await admin().setBudget(id, formatUsd(limit));

    // The window as any instant of the run saw it, read while the requests run.
    const seen: bigint[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const window = await windowOf(store, id);
        seen.push(window.spent + window.reserved);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();

    const burst = async (count: number) =>
      Promise.all(
        Array.from({ length: count }, (_, i) => chat(gateways[i % 2]!.url, key, { maxTokens: 5 }).then((answer) => answer.status)),
      );
    const statuses = await burst(100);
    expect(statuses.every((status) => status === 200 || status === 429)).toBe(true);
    let served = statuses.filter((status) => status === 200).length;
    expect(served).toBeLessThanOrEqual(20);
    // Slices left unused on one instance are not lost: once they expire they go back and the other serves them.
    for (let round = 0; round < 40 && served < 20; round++) {
      await new Promise((resolve) => setTimeout(resolve, 400));
      served += (await burst(4)).filter((status) => status === 200).length;
    }
    sampling = false;
    await sampler;
    expect(served).toBe(20);
    expect((await chat(gateways[0]!.url, key, { maxTokens: 5 })).status).toBe(429);
    expect((await chat(gateways[1]!.url, key, { maxTokens: 5 })).status).toBe(429);
    expect(seen.length).toBeGreaterThan(10);
    expect(seen.every((used) => used <= limit)).toBe(true);

    await waitFor('every row written and every lease returned', async () => (await windowOf(store, id)).reserved === 0n);
    expect(await windowOf(store, id)).toEqual({ spent: limit, reserved: 0n });
    const rows = [...(await ledgerRows(store, id)).values()];
    expect(rows.every((sameId) => sameId.length === 1)).toBe(true);
    const ok = rows.flat().filter((row) => row.status === 'ok');
    expect(ok).toHaveLength(20);
    expect(ok.reduce((sum, row) => sum + row.billedCost, 0n)).toBe(limit);
    expect(rows.flat().every((row) => row.status === 'ok' || row.status === 'rejected')).toBe(true);
    expect(await pendingCount(store)).toBe(0);
  });

  test('while instances hold leases, the tie-out counts them as reserved: the budget windows agree with the ledger', async () => {
    const { id, key } = await admin().createKey('tie-out');
    const one = await oneRequest(key);
    await admin().setBudget(id, formatUsd(one * 1000n));
    for (let i = 0; i < 6; i++) expect((await chat(gateways[i % 2]!.url, key, { maxTokens: 5 })).status).toBe(200);
    const leases = await leasesOf(id);
    expect(leases.length).toBeGreaterThan(0);
    expect(leases.some((lease) => BigInt(lease.cost) > 0n)).toBe(true);
    const now = new Date();
    const from = `${now.toISOString().slice(0, 7)}-01`;
    const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString().slice(0, 10);
    await waitFor('the six rows written', async () => [...(await ledgerRows(store, id)).values()].length === 6);
    const response = await admin().call('GET', `/reports/reconcile?from=${from}&to=${next}`);
    expect(response.status).toBe(200);
    const report = (await response.json()) as { checks: { name: string; ok: boolean; differences?: unknown[] }[] };
    expect(report.checks.filter((check) => !check.ok)).toEqual([]);
  });

  test('a client-chosen request id is still checked by the database: a reused one is refused with 409', async () => {
    const { id, key } = await admin().createKey('ids');
    await admin().setBudget(id, '5.00');
    expect((await chat(gateways[0]!.url, key, { maxTokens: 5, requestId: 'mine-1' })).status).toBe(200);
    const again = await chat(gateways[1]!.url, key, { maxTokens: 5, requestId: 'mine-1' });
    expect(again.status).toBe(409);
    await waitFor('the row written', async () => (await ledgerRows(store, id)).get('mine-1')?.[0]?.status === 'ok');
    expect((await ledgerRows(store, id)).get('mine-1')).toHaveLength(1);
  });

  test('a clean stop releases its leases; a SIGKILLed instance’s leases go back within seconds and its streams in flight leave no row', async () => {
    // Leases read again only after a minute: what they hold stays held until a stop or a kill.
    const long = { ...env, TOLLGATE_LEASE_MS: '60000' };
    const stopped = await startGatewayProcess({ env: long, config });
    const doomed = await startGatewayProcess({ env: long, config });
    gateways.push(stopped, doomed);
    const { id, key } = await admin().createKey('killed');
    const one = await oneRequest(key);
    const limit = one * 100n;
    await admin().setBudget(id, formatUsd(limit));

    for (let i = 0; i < 3; i++) expect((await chat(stopped.url, key, { maxTokens: 5 })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await chat(doomed.url, key, { maxTokens: 5 })).status).toBe(200);
    await waitFor('six rows written', async () => [...(await ledgerRows(store, id)).values()].length === 6);
    expect((await leasesOf(id)).length).toBe(2);
    const held = await windowOf(store, id);
    expect(held.spent).toBe(one * 6n);
    expect(held.reserved).toBeGreaterThan(0n);

    await stopped.stop();
    const afterStop = await leasesOf(id);
    expect(afterStop).toHaveLength(1);
    expect(BigInt(afterStop[0]!.cost)).toBe((await windowOf(store, id)).reserved);

    // A stream in flight on the doomed instance when it dies: the documented exposure.
    const slow = await startFakeVllm({ completionTokens: 40, chunkDelayMs: 100 });
    try {
      const slowConfig = processConfig(slow.url);
      const slowDoomed = await startGatewayProcess({ env: long, config: slowConfig });
      gateways.push(slowDoomed);
      expect((await chat(slowDoomed.url, key, { maxTokens: 5 })).status).toBe(200);
      const cut = fetch(`${slowDoomed.url}/v1/chat/completions`, chatInit(key, { stream: true, maxTokens: 40 }))
        .then((response) => response.text())
        .catch(() => 'cut off');
      await waitFor('the stream at the backend', () => slow.received.filter((request) => request.method === 'POST').length === 2);
      await waitFor('the first row written', async () => [...(await ledgerRows(store, id)).values()].length === 7);
      await slowDoomed.kill();
      await doomed.kill();
      expect(await cut).not.toContain('[DONE]');
    } finally {
      await slow.close();
    }

    // The survivors' liveness loops release the dead instances' leases: the window holds only what was spent.
    await waitFor('the killed instances’ leases released', async () => (await leasesOf(id)).length === 0, 15_000);
    const rows = [...(await ledgerRows(store, id)).values()].flat();
    expect(rows).toHaveLength(7);
    expect(rows.every((row) => row.status === 'ok')).toBe(true);
    const spent = rows.reduce((sum, row) => sum + row.billedCost, 0n);
    expect(await windowOf(store, id)).toEqual({ spent, reserved: 0n });
    // And the budget it held serves requests again.
    expect((await chat(gateways[0]!.url, key, { maxTokens: 5 })).status).toBe(200);
  });
});
