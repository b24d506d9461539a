import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseUsd } from '../../../src/pricing';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { type GatewayProcess, startGatewayProcess } from '../../support/gateway';
import {
  adminOf,
  chat,
  healthz,
  ledgerRows,
  pendingCount,
  processConfig,
  relayedDatabase,
  tempDir,
  waitFor,
  windowOf,
} from '../../support/resilience';
import { postgresAvailable } from '../support/databases';

/** The gateway's connections, told apart from this test's own. */
const GATEWAY_APP = 'gateway-under-load';
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// How a stall often ends: every socket reset. Under steady load (admissions, streams, writer
// batches in flight), the relay in front of the gateway process's database stalls and then resets
// its sockets, again and again; then the database terminates its backends. The process stays up and keeps answering (200, or 503 while the
// database is away), and once the link is healthy every request has exactly one final row: billed
// as answered when served, a void at no cost when refused; nothing pending or reserved.
describe.runIf(postgresAvailable)('socket resets under load', () => {
  let backend: FakeVllm;
  let database: Awaited<ReturnType<typeof relayedDatabase>>;
  let gateway: GatewayProcess;

  beforeAll(async () => {
    backend = await startFakeVllm({ completionTokens: 8, chunkDelayMs: 15 });
    database = await relayedDatabase();
    gateway = await startGatewayProcess({
      env: {
        DATABASE_URL: `${database.relayUrl}?application_name=${GATEWAY_APP}`,
        TOLLGATE_DB_DEADLINE_MS: '3000',
        TOLLGATE_JOURNAL_DIR: tempDir('resets-journal'),
      },
      config: processConfig(backend.url),
    });
  });
  afterAll(async () => {
    await gateway?.stop();
    await database?.drop();
    await backend?.close();
  });

  test('stall then reset six times, backends terminated twice: the process answers throughout, and every request ends with exactly one final row', {
    timeout: 180_000,
  }, async () => {
    const admin = adminOf(gateway);
    const { id, key } = await admin.createKey('load');
    await admin.setBudget(id, '100');
    expect((await chat(gateway.url, key, { requestId: 'warm' })).status).toBe(200);

    const answers = new Map<string, { status: number; cost: string | null; stream: boolean }>();
    let loading = true;
    const client = async (worker: number) => {
      for (let n = 0; loading; n++) {
        const requestId = `load-${worker}-${n}`;
        const stream = n % 2 === 0;
        const answer = await chat(gateway.url, key, { requestId, stream, maxTokens: 8 }).catch(() => null);
        answers.set(requestId, { status: answer?.status ?? 0, cost: answer?.headers.get('x-tollgate-cost') ?? null, stream });
        if (!answer) return; // the gateway is gone: the assertions below say so
      }
    };
    const clients = Array.from({ length: 8 }, (_, worker) => client(worker));

    for (let round = 0; round < 6; round++) {
      await pause(400);
      database.relay.stall();
      await database.relay.held();
      await pause(round % 2 === 0 ? 300 : 3_500); // past the 3 s deadline on odd rounds: pools are replaced mid-stall
      database.relay.reset();
      database.relay.resume();
      expect(gateway.child.exitCode, gateway.output()).toBeNull();
      expect(await healthz(gateway.url)).toBe(200);
    }
    // And as a database restart does: every backend of the gateway terminated under it, twice.
    for (let round = 0; round < 2; round++) {
      await pause(400);
      await database.store.rows(sql`
        SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = ${GATEWAY_APP}`);
      expect(gateway.child.exitCode, gateway.output()).toBeNull();
    }
    await pause(500);
    loading = false;
    await Promise.all(clients);

    await waitFor('/readyz ready', async () => (await fetch(`${gateway.url}/readyz`)).status === 200);
    await waitFor('no pending row and nothing waiting', async () => {
      const metrics = await (await admin.call('GET', '/admin/metrics')).json();
      return (await pendingCount(database.store)) === 0 && metrics.ledger.waiting === 0;
    });
    expect(gateway.child.exitCode, gateway.output()).toBeNull();

    const statuses = new Set([...answers.values()].map((answer) => answer.status));
    expect([...statuses].every((status) => status === 200 || status === 503)).toBe(true);
    expect(answers.size).toBeGreaterThan(50);
    const rows = await ledgerRows(database.store, id);
    let billed = 0n;
    for (const [requestId, answer] of answers) {
      const own = rows.get(requestId) ?? [];
      if (answer.status === 200) {
        expect(own, requestId).toHaveLength(1);
        expect(own[0]!.status, requestId).toBe('ok');
        if (!answer.stream) expect(own[0]!.billedCost, requestId).toBe(parseUsd(answer.cost!));
      } else {
        // Refused: a void when the admission may have reached the database, else nothing at all.
        expect(own.length, requestId).toBeLessThanOrEqual(1);
        for (const row of own) expect(row, requestId).toMatchObject({ status: 'rejected', billedCost: 0n });
      }
    }
    for (const list of rows.values()) for (const row of list) billed += row.billedCost;
    expect(rows.size).toBe([...answers.keys()].filter((requestId) => rows.has(requestId)).length + 1); // + the warm-up
    const window = await windowOf(database.store, id);
    expect(window).toEqual({ spent: billed, reserved: 0n });
  });
});
