import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { formatUsd, parseUsd } from '../../../src/pricing';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { type GatewayProcess, startGatewayProcess } from '../../support/gateway';
import { adminOf, chat, chatInit, ledgerRows, processConfig, relayedDatabase, waitFor, windowOf } from '../../support/resilience';
import { postgresAvailable } from '../support/databases';

// Two gateway processes on one Postgres, both with long streams in flight; one is SIGKILLed. Its
// rows are settled and its reservations released within 10 s (heartbeats every 2 s, silence after
// 3, as `npm start` runs by default), and the survivor's streams, longer than that silence, flow
// on and settle `ok`: a live owner's rows are never swept.
describe.runIf(postgresAvailable)('SIGKILL of one of two instances on one Postgres', () => {
  let backend: FakeVllm;
  let database: Awaited<ReturnType<typeof relayedDatabase>>;
  const gateways: GatewayProcess[] = [];

  beforeAll(async () => {
    // 60 tokens at 250 ms each: every stream runs ~15 s, past the kill, the silence and the sweep.
    backend = await startFakeVllm({ completionTokens: 60, chunkDelayMs: 250 });
    database = await relayedDatabase();
  });
  afterAll(async () => {
    for (const gateway of gateways) await gateway.stop().catch(() => {});
    await database?.drop();
    await backend?.close();
  });

  test("the killed instance's rows are final and its reservations released within 10 s; the survivor's streams settle ok", async () => {
    const config = processConfig(backend.url);
    const env = { DATABASE_URL: database.url };
    const doomed = await startGatewayProcess({ env, config });
    gateways.push(doomed);
    const survivor = await startGatewayProcess({ env, config });
    gateways.push(survivor);
    const admin = adminOf(survivor);

    // A small budget: one worst case of the 60-token request fits, a second does not.
    const small = await admin.createKey('small');
    const estimate = await fetch(`${survivor.url}/v1/estimate`, chatInit(small.key, { maxTokens: 60 }));
    const worstCase = parseUsd(((await estimate.json()) as { cost: { total: string } }).cost.total);
    await admin.setBudget(small.id, formatUsd((worstCase * 3n) / 2n));
    const shared = await admin.createKey('shared');

    // In flight: on the doomed instance, the small key's stream and three others; on the survivor, three.
    const streams = (gateway: GatewayProcess, key: string, ids: string[]) =>
      ids.map((requestId) =>
        fetch(`${gateway.url}/v1/chat/completions`, chatInit(key, { requestId, stream: true, maxTokens: 60 }))
          .then(async (response) => ({ status: response.status, text: await response.text() }))
          .catch(() => ({ status: 0, text: 'cut off' })),
      );
    const doomedIds = ['doomed-1', 'doomed-2', 'doomed-3'];
    const survivorIds = ['survivor-1', 'survivor-2', 'survivor-3'];
    const onDoomed = [...streams(doomed, small.key, ['doomed-small']), ...streams(doomed, shared.key, doomedIds)];
    const onSurvivor = streams(survivor, shared.key, survivorIds);
    // POSTs: each gateway also reads /v1/models at start.
    await waitFor('all seven streams at the backend', () => backend.received.filter((request) => request.method === 'POST').length === 7);

    // The doomed stream's reservation holds the small budget: the survivor refuses a second one.
    expect((await chat(survivor.url, small.key, { maxTokens: 60 })).status).toBe(429);

    await doomed.kill();
    const killedAt = Date.now();
    expect((await Promise.all(onDoomed)).every((answer) => answer.text === 'cut off' || !answer.text.includes('[DONE]'))).toBe(true);

    // Within 10 s of the kill: every row of the doomed instance is final and its reservation released.
    await waitFor(
      "the killed instance's rows settled",
      async () => {
        const rows = [
          ...(await ledgerRows(database.store, shared.id)).values(),
          ...(await ledgerRows(database.store, small.id)).values(),
        ].flat();
        const doomedRows = rows.filter((row) => row.requestId.startsWith('doomed-'));
        return doomedRows.length === 4 && doomedRows.every((row) => row.status === 'incomplete');
      },
      Math.max(0, killedAt + 10_000 - Date.now()),
    );
    expect(await windowOf(database.store, small.id)).toMatchObject({ reserved: 0n });
    // The small budget admits again (it paid only the killed request's prompt).
    expect((await chat(survivor.url, small.key, { maxTokens: 60, requestId: 'small-again' })).status).toBe(200);

    // The survivor's streams were never touched: each ran to its end and is billed in full.
    const answers = await Promise.all(onSurvivor);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.text).toContain('[DONE]');
    }
    await waitFor('the survivor rows final', async () => {
      const rows = await ledgerRows(database.store, shared.id);
      return survivorIds.every((id) => rows.get(id)?.[0]?.status === 'ok');
    });
    const rows = await ledgerRows(database.store, shared.id);
    for (const id of survivorIds) {
      expect(rows.get(id)).toHaveLength(1);
      expect(rows.get(id)![0]).toMatchObject({ status: 'ok', completionTokens: 60 });
    }
    for (const id of doomedIds)
      expect(rows.get(id)).toEqual([expect.objectContaining({ status: 'incomplete', completionTokens: 0, errorCode: 'swept' })]);
    expect(await windowOf(database.store, small.id)).toMatchObject({ reserved: 0n });
  });
});
