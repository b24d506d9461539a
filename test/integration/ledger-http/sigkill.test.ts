import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { defaultConfigInput } from '../../../src/config';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { ADMIN_TOKEN, startGatewayProcess } from '../../support/gateway';
import { createPostgresDatabase, postgresAvailable } from '../support/databases';

const targets = [
  {
    name: 'pglite',
    database: async () => ({ env: { TOLLGATE_DATA_DIR: mkdtempSync(join(tmpdir(), 'tollgate-kill-')) }, drop: async () => {} }),
  },
  ...(postgresAvailable
    ? [
        {
          name: 'postgres',
          database: async () => {
            const db = await createPostgresDatabase();
            return { env: { DATABASE_URL: db.url }, drop: db.drop };
          },
        },
      ]
    : []),
];

describe.each(targets)('SIGKILL with 200 requests in flight, on $name', (target) => {
  let backend: FakeVllm;
  beforeAll(async () => {
    // Streams take 100 s, so every one is still generating when the gateway dies, however slowly
    // a loaded machine admits the 200.
    backend = await startFakeVllm({ completionTokens: 400, chunkDelayMs: 250, latencyMs: 0 });
  });
  afterAll(async () => backend?.close());

  test('after a restart and a sweep, no row is pending and none is duplicated', async () => {
    const database = await target.database();
    // The first instance never times a stream out, whatever the machine's load; the restarted one
    // has a short backend timeout so its sweeper may treat the orphans as abandoned soon.
    const patient = defaultConfigInput(backend.url) as any;
    patient.backends['gpu-a'].timeoutMs = 600_000;
    const config = defaultConfigInput(backend.url) as any;
    config.backends['gpu-a'].timeoutMs = 2_000;
    const env = { ...database.env, TOLLGATE_SWEEP_GRACE_MS: '200', TOLLGATE_SWEEP_INTERVAL_MS: '300' };
    let gateway = await startGatewayProcess({ env, config: patient });
    try {
      const adminHeaders = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
      const created = await fetch(`${gateway.url}/admin/keys`, {
        method: 'POST',
        headers: adminHeaders,
        body: JSON.stringify({ name: 'doomed' }),
      });
      const { key } = (await created.json()) as { key: string };

      const ids = Array.from({ length: 200 }, (_, i) => `kill-${i}`);
      const inFlight = ids.map((id, i) =>
        fetch(`${gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': id },
          body: JSON.stringify({
            model: 'gpt-4',
            messages: [{ role: 'user', content: `hello ${i}` }],
            max_tokens: 400,
            stream: i % 2 === 0,
          }),
        })
          .then((response) => response.text())
          .catch(() => 'cut off'),
      );
      // Every request has reached the backend: all are admitted and mid-generation (POSTs: the
      // gateway also reads /v1/models at start).
      const posted = () => backend.received.filter((request) => request.method === 'POST').length;
      for (let tries = 0; posted() < 200 && tries < 600; tries++) await new Promise((r) => setTimeout(r, 50));
      expect(posted()).toBe(200);
      const killedUrl = gateway.url;
      await gateway.kill();
      // Every stream (still generating) is cut off, and nothing answers where the gateway was.
      const answers = await Promise.all(inFlight);
      expect(new Set(answers.filter((_, i) => i % 2 === 0))).toEqual(new Set(['cut off']));
      await expect(fetch(`${killedUrl}/healthz`)).rejects.toThrow();

      gateway = await startGatewayProcess({ env, config });
      const rows = async () =>
        Promise.all(
          ids.map(async (id) => {
            const response = await fetch(`${gateway.url}/admin/requests/${id}`, { headers: adminHeaders });
            expect(response.status, id).toBe(200);
            return (await response.json()) as { requestId: string; status: string; billedCost: string; promptTokens: number };
          }),
        );
      let seen = await rows();
      for (let tries = 0; seen.some((row) => row.status === 'pending') && tries < 100; tries++) {
        await new Promise((r) => setTimeout(r, 200));
        seen = await rows();
      }
      expect(seen.filter((row) => row.status === 'pending')).toEqual([]);
      expect(new Set(seen.map((row) => row.requestId)).size).toBe(200);
      // Abandoned rows are billed what is known: the prompt at the row's price.
      for (const row of seen.filter((r) => r.status === 'incomplete')) expect(row.promptTokens).toBeGreaterThan(0);
      expect(seen.filter((row) => row.status === 'incomplete').length).toBeGreaterThan(0);
    } finally {
      await gateway.stop();
      await database.drop();
      if ('TOLLGATE_DATA_DIR' in database.env) rmSync(database.env.TOLLGATE_DATA_DIR as string, { recursive: true, force: true });
    }
  });
});
