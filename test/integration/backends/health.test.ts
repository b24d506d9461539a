// Replica health as operators see it: active probes against replicas that lie about their
// health, /readyz with a model whose replicas are all down, the max_model_len check at start,
// the trace context from the application to the replica, and the per-request log line.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { ActiveProbes, checkServedContext } from '../../../src/backends';
import { loadConfig } from '../../../src/config';
import { openStore } from '../../../src/store/open';
import type { FakeVllm } from '../../doubles/fake-vllm';
import { chat, ledgerRows, type ReplicaGateway, replicaConfigInput, served, startReplicaGateway, startReplicas, until } from './replicas';

let replicas: FakeVllm[];
let gateway: ReplicaGateway | undefined;
let probes: ActiveProbes | undefined;

beforeAll(async () => {
  replicas = await startReplicas(3, { completionTokens: 3 });
});
afterEach(async () => {
  probes?.stop();
  probes = undefined;
  await gateway?.stop();
  await gateway?.store.close();
  gateway = undefined;
  for (const replica of replicas) {
    await replica.start();
    replica.reset();
  }
});
afterAll(async () => {
  for (const replica of replicas ?? []) await replica.close();
});

async function start(patch: (input: any) => void = () => {}) {
  gateway = await startReplicaGateway({ store: await openStore({ dataDir: 'memory://' }), config: replicaConfigInput(replicas, patch) });
  return { gateway, ...(await gateway.createKey()) };
}

const fetchFn: typeof fetch = (input, init) => fetch(input, init);

describe('active probes', () => {
  test('a replica whose health check fails is taken out, and back once it answers again', async () => {
    const { gateway, key } = await start((input) => {
      input.gateway.health = { probeIntervalMs: 20, backoffMs: 50, maxBackoffMs: 100 };
    });
    probes = new ActiveProbes(gateway.pool, fetchFn);
    probes.update();
    replicas[1]!.behave({ health: 'fail' });
    await until('r1 ejected by its probe', () => !gateway.pool.replicas.get('r1')!.healthy);
    for (let i = 0; i < 6; i++) expect((await gateway.post(key, '/v1/chat/completions', chat())).status).toBe(200);
    expect(served(replicas[1]!)).toHaveLength(0);
    replicas[1]!.behave({ health: 'ok' });
    await until('r1 serving again', async () => {
      expect((await gateway.post(key, '/v1/chat/completions', chat())).status).toBe(200);
      return served(replicas[1]!).length > 0;
    });
    expect(gateway.pool.replicas.get('r1')!.healthy).toBe(true);
  });

  test('a replica that answers its health check but fails requests stays out for its back-off: its word does not let it back', async () => {
    const { gateway, key } = await start((input) => {
      input.gateway.health = { probeIntervalMs: 20, backoffMs: 60_000, maxBackoffMs: 60_000 };
    });
    probes = new ActiveProbes(gateway.pool, fetchFn);
    probes.update();
    replicas[1]!.behave({ health: 'ok', fail: { status: 500 } });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await gateway.post(key, '/v1/chat/completions', chat())).status);
    // Its one failure reaches its client (a 500 may have been processed: not retried); then it gets nothing.
    expect(statuses.filter((status) => status === 500)).toHaveLength(1);
    expect(served(replicas[1]!)).toHaveLength(1);
    await until('a few probe rounds', () => replicas[1]!.received.filter((r) => r.path === '/health').length >= 3);
    expect((await gateway.post(key, '/v1/chat/completions', chat())).status).toBe(200);
    expect(served(replicas[1]!)).toHaveLength(1);
    expect(gateway.pool.replicas.get('r1')!.healthy).toBe(false);
  });
});

describe('/readyz', () => {
  test('unready while a model has no replica that can serve; ready again once one answers', async () => {
    const { gateway, key } = await start((input) => {
      input.models['gpt-4'].backends = ['r0'];
      input.gateway.health = { backoffMs: 100, maxBackoffMs: 200 };
    });
    expect(await (await fetch(`${gateway.url}/readyz`)).json()).toEqual({ status: 'ready' });
    await replicas[0]!.stop();
    expect((await gateway.post(key, '/v1/chat/completions', chat())).status).toBe(502);
    const unready = await fetch(`${gateway.url}/readyz`);
    expect(unready.status).toBe(503);
    expect(await unready.json()).toMatchObject({
      status: 'unready',
      reason: 'no_healthy_replica',
      message: "No replica of 'gpt-4', 'gpt-4-32k' is healthy.",
    });
    await replicas[0]!.start();
    await until('ready again', async () => (await fetch(`${gateway.url}/readyz`)).status === 200);
    expect((await gateway.post(key, '/v1/chat/completions', chat())).status).toBe(200);
  });
});

describe('max_model_len at start', () => {
  test('a replica serving a shorter context than the model window is reported by name; an unreachable one too', async () => {
    replicas[1]!.behave({ maxModelLen: 4096 });
    await replicas[2]!.stop();
    const config = loadConfig(JSON.stringify(replicaConfigInput(replicas)));
    const lines: string[] = [];
    await checkServedContext(config, fetchFn, (line) => void lines.push(line));
    expect(lines.filter((line) => line.includes('max_model_len'))).toEqual([
      'tollgate: replica "r1" serves "fake-model" with max_model_len 4096, below the contextWindow 8192 of model "gpt-4": requests that fit the window can fail there',
    ]);
    expect(lines.some((line) => line.startsWith('tollgate: could not read the models of replica "r2"'))).toBe(true);
  });
});

describe('trace context and the request log', () => {
  test("the application's traceparent reaches the replica and the ledger row; one JSON log line per request, without key or prompt", async () => {
    const { gateway, id, key } = await start((input) => {
      input.gateway.logging = { requests: true };
    });
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const secret = 'the secret prompt 42';
    const answered = await gateway.post(key, '/v1/chat/completions', chat({ messages: [{ role: 'user', content: secret }] }), {
      traceparent,
      tracestate: 'app=1',
      'x-request-id': 'traced',
    });
    expect(answered.status).toBe(200);
    expect((await gateway.post(key, '/v1/chat/completions', chat(), { 'x-request-id': 'untraced' })).status).toBe(200);
    const upstream = replicas.flatMap(served);
    const traced = upstream.find((request) => request.headers['x-request-id'] === 'traced')!;
    expect(traced.headers).toMatchObject({ traceparent, tracestate: 'app=1' });
    const made = upstream.find((request) => request.headers['x-request-id'] === 'untraced')!.headers.traceparent as string;
    expect(made).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);

    const rows = new Map((await ledgerRows(gateway, id)).map((row) => [row.request_id, row]));
    expect(rows.get('traced')).toMatchObject({ traceparent, attempts: 1 });
    expect(rows.get('untraced')).toMatchObject({ traceparent: made });

    const lines = gateway.logs.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
    const line = lines.find((entry) => entry.requestId === 'traced');
    expect(line).toMatchObject({
      event: 'request',
      keyId: id,
      model: 'gpt-4',
      replica: rows.get('traced')!.replica,
      attempts: 1,
      status: 'ok',
      promptTokens: Number(rows.get('traced')!.prompt_tokens),
      completionTokens: Number(rows.get('traced')!.completion_tokens),
      traceparent,
    });
    expect(line.cost).toMatch(/^0\.\d+$/);
    expect(typeof line.latencyMs).toBe('number');
    const all = gateway.logs.join('\n');
    expect(all).not.toContain(key);
    expect(all).not.toContain(secret);
  });

  test('off by default', async () => {
    const { gateway, key } = await start();
    expect((await gateway.post(key, '/v1/chat/completions', chat())).status).toBe(200);
    await gateway.flush();
    expect(gateway.logs.filter((line) => line.startsWith('{'))).toEqual([]);
  });
});
