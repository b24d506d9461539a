import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { type GatewayProcess, startGatewayProcess } from '../../support/gateway';
import { adminOf, chatInit, processConfig, relayedDatabase, waitFor } from '../../support/resilience';
import { postgresAvailable } from '../support/databases';

const readyz = async (gateway: GatewayProcess) => {
  const response = await fetch(`${gateway.url}/readyz`);
  return { status: response.status, body: (await response.json()) as { status: string; reason?: string } };
};

// `/healthz` says the process is alive; `/readyz` says it can admit requests: the database
// answers in time with this gateway's migrations applied, and it is not draining.
describe('/readyz', () => {
  let backend: FakeVllm;
  beforeAll(async () => {
    backend = await startFakeVllm({ completionTokens: 40, chunkDelayMs: 50 });
  });
  afterAll(async () => backend?.close());

  test('on SIGTERM it turns unready at once while in-flight streams finish and the process is still alive (PGlite)', async () => {
    const gateway = await startGatewayProcess({ env: { TOLLGATE_DRAIN_DELAY_MS: '1500' }, config: processConfig(backend.url) });
    try {
      expect(await readyz(gateway)).toEqual({ status: 200, body: { status: 'ready' } });
      const { key } = await adminOf(gateway).createKey('drain');
      const streaming = fetch(`${gateway.url}/v1/chat/completions`, chatInit(key, { stream: true, maxTokens: 40 })).then(
        async (response) => ({
          status: response.status,
          text: await response.text(),
        }),
      );
      await waitFor('the stream at the backend', () => backend.inFlight === 1);
      gateway.child.kill('SIGTERM');
      await waitFor('draining', () => gateway.output().includes('SIGTERM: draining'));
      expect(await readyz(gateway)).toMatchObject({ status: 503, body: { status: 'unready', reason: 'draining' } });
      expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
      const answer = await streaming;
      expect(answer.status).toBe(200);
      expect(answer.text).toContain('[DONE]');
    } finally {
      await gateway.stop();
    }
  });

  describe.runIf(postgresAvailable)('on Postgres', () => {
    let database: Awaited<ReturnType<typeof relayedDatabase>>;
    let gateway: GatewayProcess;
    beforeAll(async () => {
      database = await relayedDatabase();
      gateway = await startGatewayProcess({ env: { DATABASE_URL: database.relayUrl }, config: processConfig(backend.url) });
    });
    afterAll(async () => {
      await gateway?.stop();
      await database?.drop();
    });

    test('unready while a migration this gateway needs is not applied, ready again once it is', async () => {
      expect(await readyz(gateway)).toEqual({ status: 200, body: { status: 'ready' } });
      const [last] = await database.store.rows<{ tag: string; hash: string }>(
        sql`SELECT tag, hash FROM tollgate_migrations ORDER BY tag DESC LIMIT 1`,
      );
      await database.store.rows(sql`DELETE FROM tollgate_migrations WHERE tag = ${last!.tag}`);
      expect(await readyz(gateway)).toMatchObject({ status: 503, body: { status: 'unready', reason: 'migrations_pending' } });
      await database.store.rows(sql`INSERT INTO tollgate_migrations (tag, hash) VALUES (${last!.tag}, ${last!.hash})`);
      expect(await readyz(gateway)).toEqual({ status: 200, body: { status: 'ready' } });
    });

    test('unready while the database does not answer, ready again when it does; /healthz ok throughout', async () => {
      database.relay.stall();
      expect(await readyz(gateway)).toMatchObject({ status: 503, body: { status: 'unready', reason: 'database_unreachable' } });
      expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
      database.relay.resume();
      await waitFor('ready again', async () => (await readyz(gateway)).status === 200);
      await database.relay.down();
      expect(await readyz(gateway)).toMatchObject({ status: 503, body: { reason: 'database_unreachable' } });
      await database.relay.up();
      await waitFor('ready again', async () => (await readyz(gateway)).status === 200);
    });
  });
});
