import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseUsd } from '../../../src/pricing';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { type GatewayProcess, startGatewayProcess } from '../../support/gateway';
import {
  adminOf,
  chat,
  ledgerRows,
  pendingCount,
  processConfig,
  relayedDatabase,
  tempDir,
  waitFor,
  windowOf,
} from '../../support/resilience';
import { postgresAvailable } from '../support/databases';

// A database link that silently drops packets (the relay stalls: nothing moves, new connections
// hang) must not hang admission: the gateway process answers 503 `ledger_unavailable` at its
// admission deadline (a failOpen key is served instead), `/readyz` says so while `/healthz` stays
// ok, and the stalled pool is replaced. After the link resumes, every request has exactly one
// final row, nothing pending, nothing reserved, nothing billed twice.
describe.runIf(postgresAvailable)('a stalled database', () => {
  let backend: FakeVllm;
  let database: Awaited<ReturnType<typeof relayedDatabase>>;
  let gateway: GatewayProcess;

  beforeAll(async () => {
    backend = await startFakeVllm({ completionTokens: 5 });
    database = await relayedDatabase();
    gateway = await startGatewayProcess({
      // Our own deadline on a statement, shorter than the default 15 s so the test sees the pool replaced soon.
      env: { DATABASE_URL: database.relayUrl, TOLLGATE_DB_DEADLINE_MS: '4000', TOLLGATE_JOURNAL_DIR: tempDir('stall-journal') },
      config: processConfig(backend.url),
    });
  });
  afterAll(async () => {
    await gateway?.stop();
    await database?.drop();
    await backend?.close();
  });

  const readyz = async () => {
    const response = await fetch(`${gateway.url}/readyz`);
    return { status: response.status, body: (await response.json()) as { status: string; reason?: string } };
  };

  test('503 ledger_unavailable at the deadline, a failOpen key served, /readyz unready until resume; then one final row each', async () => {
    const admin = adminOf(gateway);
    const closed = await admin.createKey('closed');
    const open = await admin.createKey('open', { failOpen: true });
    await admin.setBudget(closed.id, '10');
    // Auth caches both keys and this instance learns the failOpen key's price and budget.
    expect((await chat(gateway.url, closed.key)).status).toBe(200);
    expect((await chat(gateway.url, open.key)).status).toBe(200);
    expect(await readyz()).toEqual({ status: 200, body: { status: 'ready' } });

    database.relay.stall();
    const refused = await chat(gateway.url, closed.key, { requestId: 'stalled-closed' });
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.text).error.code).toBe('ledger_unavailable');
    const served = await chat(gateway.url, open.key, { requestId: 'stalled-open' });
    expect(served.status).toBe(200);
    expect(served.headers.get('x-tollgate-fail-open')).toBe('1');

    expect(await readyz()).toMatchObject({ status: 503, body: { status: 'unready', reason: 'database_unreachable' } });
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
    await waitFor('the stalled pool replaced', () => gateway.output().includes('database pool replaced'));

    database.relay.resume();
    await waitFor('/readyz ready again', async () => (await readyz()).status === 200);
    await waitFor('no pending row and nothing waiting', async () => {
      const metrics = await (await admin.call('GET', '/admin/metrics')).json();
      return (await pendingCount(database.store)) === 0 && metrics.ledger.waiting === 0;
    });

    // The refused request: its void (the admission ran out of time and might have committed
    // later), never a charge; the served one billed once, as answered.
    const closedRows = await ledgerRows(database.store, closed.id);
    expect(closedRows.get('stalled-closed')).toEqual([
      expect.objectContaining({ status: 'rejected', billedCost: 0n, errorCode: 'ledger_unavailable' }),
    ]);
    const openRows = await ledgerRows(database.store, open.id);
    expect(openRows.get('stalled-open')).toEqual([
      expect.objectContaining({ status: 'ok', admittedFailOpen: true, billedCost: parseUsd(served.headers.get('x-tollgate-cost')!) }),
    ]);
    const closedWindow = await windowOf(database.store, closed.id);
    expect(closedWindow.reserved).toBe(0n);
    const billed = [...closedRows.values()].flat().reduce((sum, row) => sum + row.billedCost, 0n);
    expect(closedWindow.spent).toBe(billed);

    // Back to normal: both keys are admitted by the database again.
    expect((await chat(gateway.url, closed.key)).status).toBe(200);
    const after = await chat(gateway.url, open.key);
    expect(after.status).toBe(200);
    expect(after.headers.get('x-tollgate-fail-open')).toBeNull();
  });
});
