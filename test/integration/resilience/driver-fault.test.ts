import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { type GatewayProcess, startGatewayProcess } from '../../support/gateway';
import { adminOf, chat, chatInit, ledgerRows, processConfig, relayedDatabase, tempDir, waitFor } from '../../support/resilience';
import { postgresAvailable } from '../support/databases';

// postgres.js 3.4.9 throws from its own timers when a transaction's connection dies under it: the
// ROLLBACK it sends from its catch lands on a socket already gone ("Cannot read properties of null
// (reading 'write')", porsager/postgres#1208), where no caller can catch it. The ledger writer no
// longer opens a transaction (a batch of final rows is one statement), so its connection dying is
// an ordinary error it retries; a month close still runs in one, so that is where the fault is made
// here: the process logs it, replaces its pool, and serves and bills on.
describe.runIf(postgresAvailable)('a fault inside the database driver', () => {
  let backend: FakeVllm;
  let database: Awaited<ReturnType<typeof relayedDatabase>>;
  let gateway: GatewayProcess;
  let locker: postgres.Sql;

  beforeAll(async () => {
    backend = await startFakeVllm({ completionTokens: 5 });
    database = await relayedDatabase();
    locker = postgres(database.url, { max: 2, onnotice: () => {} });
    gateway = await startGatewayProcess({
      env: { DATABASE_URL: database.url, TOLLGATE_JOURNAL_DIR: tempDir('fault-journal') },
      config: processConfig(backend.url),
    });
  });
  afterAll(async () => {
    await gateway?.stop();
    await locker?.end({ timeout: 1 });
    await database?.drop();
    await backend?.close();
  });

  /** The gateway's connection waiting on a lock, as `pg_stat_activity` shows it. */
  const waitingOnLock = () =>
    waitFor('a gateway statement waiting on the lock', async () => {
      const rows = await locker`
        SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'tollgate' AND wait_event_type = 'Lock'`;
      return rows.length > 0 ? rows : undefined;
    });

  test("the ledger writer's statement killed under it: the process survives, the row is written once, requests go on", async () => {
    const admin = adminOf(gateway);
    const { id, key } = await admin.createKey('fault');
    expect((await chat(gateway.url, key)).status).toBe(200);

    // The request is admitted and streaming; its pending row is then locked, so its settlement waits.
    let release!: () => void;
    backend.behave({ gate: new Promise<void>((resolve) => (release = resolve)) });
    const streaming = fetch(`${gateway.url}/v1/chat/completions`, chatInit(key, { requestId: 'fault-row', stream: true })).then(
      async (response) => ({ status: response.status, text: await response.text() }),
    );
    // POSTs: the gateway also reads /v1/models at start.
    await waitFor('the request at the backend', () => backend.received.filter((request) => request.method === 'POST').length === 2);
    backend.behave({ gate: undefined });
    const held = await locker.reserve();
    await held`BEGIN`;
    await held`SELECT 1 FROM usage_events WHERE request_id = 'fault-row' FOR UPDATE`;
    release();
    const answer = await streaming;
    expect(answer.status).toBe(200);

    // The writer's statement waits on the lock: its backend is terminated under it.
    const [writer] = await waitingOnLock();
    await locker`SELECT pg_terminate_backend(${writer!.pid})`;
    await held`ROLLBACK`;
    held.release();

    // The batch was kept and written once; the gateway keeps admitting and billing.
    await waitFor('the row written', async () => (await ledgerRows(database.store, id)).get('fault-row')?.[0]?.status === 'ok');
    expect(gateway.child.exitCode, gateway.output()).toBeNull();
    expect((await ledgerRows(database.store, id)).get('fault-row')).toEqual([
      expect.objectContaining({ status: 'ok', completionTokens: 5, promptTokens: expect.any(Number) }),
    ]);
    const next = await chat(gateway.url, key, { requestId: 'after-fault' });
    expect(next.status).toBe(200);
    await waitFor('the next row written', async () => (await ledgerRows(database.store, id)).get('after-fault')?.[0]?.status === 'ok');
    const [count] = await database.store.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM usage_events WHERE key_id = ${id}`);
    expect(count!.n).toBe(3);
  });

  test('a transaction killed under the driver (a month close on its lock): the fault is logged, the pool replaced, the close can be retried, requests go on', async () => {
    const admin = adminOf(gateway);
    const { id, key } = await admin.createKey('fault-tx');
    const held = await locker.reserve();
    await held`SELECT pg_advisory_lock(hashtext('tollgate:period_close'))`;
    const closing = admin.call('POST', '/reports/periods/2026-10/close');
    const [closer] = await waitingOnLock();
    await locker`SELECT pg_terminate_backend(${closer!.pid})`;
    await waitFor(
      'the fault logged, or the process gone',
      () => gateway.output().includes('database driver fault') || gateway.child.exitCode !== null,
    );
    await held`SELECT pg_advisory_unlock(hashtext('tollgate:period_close'))`;
    held.release();

    expect(gateway.child.exitCode, gateway.output()).toBeNull();
    expect(gateway.output()).toContain("Cannot read properties of null (reading 'write')");
    expect(gateway.output()).toContain('database pool replaced (driver fault');
    const failed = await closing;
    expect(failed.status, await failed.clone().text()).toBeGreaterThanOrEqual(500);
    expect(((await failed.json()) as { error: { message: string } }).error.message).toBeTruthy();
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);

    // Nothing was half-closed: the retry closes the month once.
    const retried = await admin.call('POST', '/reports/periods/2026-10/close');
    expect(retried.status, await retried.clone().text()).toBe(201);
    expect((await admin.call('POST', '/reports/periods/2026-10/close')).status).toBe(409);
    const next = await chat(gateway.url, key, { requestId: 'after-tx-fault' });
    expect(next.status).toBe(200);
    await waitFor('the row written', async () => (await ledgerRows(database.store, id)).get('after-tx-fault')?.[0]?.status === 'ok');
  });
});
