import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { type GatewayProcess, startGatewayProcess } from '../../support/gateway';
import { adminOf, chat, chatInit, ledgerRows, processConfig, relayedDatabase, tempDir, waitFor } from '../../support/resilience';
import { postgresAvailable } from '../support/databases';

// postgres.js 3.4.9 throws from its own timers when a transaction's connection dies under it: the
// ROLLBACK it sends from its catch lands on a socket already gone ("Cannot read properties of null
// (reading 'write')", porsager/postgres#1208), where no caller can catch it. Here the ledger
// writer's transaction is made to wait on a row lock and its backend is terminated: the gateway
// process logs the fault, replaces its pool, keeps the queued row and writes it, and serves on.
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

  test('the writer transaction killed under the driver: the process survives, the row is written, requests go on', async () => {
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

    // The writer's transaction waits on the lock: its backend is terminated under it.
    const [writer] = await waitFor('the ledger writer waiting on the lock', async () => {
      const rows = await locker`
        SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'tollgate' AND wait_event_type = 'Lock'`;
      return rows.length > 0 ? rows : undefined;
    });
    await locker`SELECT pg_terminate_backend(${writer!.pid})`;
    await waitFor(
      'the fault logged, or the process gone',
      () => gateway.output().includes('database driver fault') || gateway.child.exitCode !== null,
    );
    await held`ROLLBACK`;
    held.release();

    expect(gateway.child.exitCode, gateway.output()).toBeNull();
    expect(gateway.output()).toContain("Cannot read properties of null (reading 'write')");
    expect(gateway.output()).toContain('database pool replaced (driver fault');
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);

    // The queued row was kept and written once; the gateway keeps admitting and billing.
    await waitFor('the row written', async () => (await ledgerRows(database.store, id)).get('fault-row')?.[0]?.status === 'ok');
    expect((await ledgerRows(database.store, id)).get('fault-row')).toEqual([
      expect.objectContaining({ status: 'ok', completionTokens: 5, promptTokens: expect.any(Number) }),
    ]);
    const next = await chat(gateway.url, key, { requestId: 'after-fault' });
    expect(next.status).toBe(200);
    await waitFor('the next row written', async () => (await ledgerRows(database.store, id)).get('after-fault')?.[0]?.status === 'ok');
    const [count] = await database.store.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM usage_events WHERE key_id = ${id}`);
    expect(count!.n).toBe(3);
  });
});
