// Three fake replicas behind one model: the gateway sends each request to the replica with the
// fewest requests in flight (relative to its weight).
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { openStore } from '../../../src/store/open';
import type { FakeVllm } from '../../doubles/fake-vllm';
import { chat, type ReplicaGateway, replicaConfigInput, served, startReplicaGateway, startReplicas, until } from './replicas';

let replicas: FakeVllm[];
let gateway: ReplicaGateway | undefined;
let key: string;

beforeAll(async () => {
  replicas = await startReplicas(3, { completionTokens: 4 });
});
afterEach(async () => {
  await gateway?.stop();
  await gateway?.store.close();
  gateway = undefined;
  for (const replica of replicas) replica.reset();
});
afterAll(async () => {
  for (const replica of replicas) await replica.close();
});

async function start(patch: (input: any) => void = () => {}) {
  gateway = await startReplicaGateway({ store: await openStore({ dataDir: 'memory://' }), config: replicaConfigInput(replicas, patch) });
  key = (await gateway.createKey()).key;
  return gateway;
}

/** A gate for streams (they wait on it before their last token) and its opener. */
function gate() {
  let open!: () => void;
  return { gate: new Promise<void>((resolve) => (open = resolve)), open: () => open() };
}

const total = () => replicas.reduce((sum, replica) => sum + served(replica).length, 0);

describe('balancing', () => {
  test('requests go where the fewest are in flight: a replica holding a slow stream gets nothing more', async () => {
    await start();
    const held = gate();
    replicas[0]!.behave({ gate: held.gate });
    const holding: Promise<string>[] = [];
    for (let i = 0; i < 9; i++) {
      const response = gateway!.post(key, '/v1/chat/completions', chat({ stream: true }));
      await until('the request at a replica', () => total() === i + 1);
      const body = response.then((r) => r.text());
      // The stream on replica 0 stays open; the others end at once.
      if (served(replicas[0]!).length > holding.length) holding.push(body);
      else expect(await body).toContain('[DONE]');
    }
    expect(served(replicas[0]!)).toHaveLength(1);
    expect(served(replicas[1]!).length + served(replicas[2]!).length).toBe(8);
    expect(Math.abs(served(replicas[1]!).length - served(replicas[2]!).length)).toBeLessThanOrEqual(1);
    expect(gateway!.pool.replicas.get('r0')!.inFlight).toBe(1);
    held.open();
    expect(await holding[0]).toContain('[DONE]');
    await until('the slot given back', () => gateway!.pool.replicas.get('r0')!.inFlight === 0);
  });

  test('nine streams at once: three on each replica', async () => {
    await start();
    const held = gate();
    for (const replica of replicas) replica.behave({ gate: held.gate });
    const streams = Array.from({ length: 9 }, () =>
      gateway!.post(key, '/v1/chat/completions', chat({ stream: true })).then((r) => r.text()),
    );
    await until('all nine at the replicas', () => total() === 9);
    expect(replicas.map((replica) => replica.inFlight)).toEqual([3, 3, 3]);
    held.open();
    for (const body of await Promise.all(streams)) expect(body).toContain('[DONE]');
  });

  test('weights 2:1:1 give sequential requests 2:1:1', async () => {
    await start((input) => {
      input.backends.r0.weight = 2;
    });
    for (let i = 0; i < 8; i++) expect((await gateway!.post(key, '/v1/chat/completions', chat())).status).toBe(200);
    expect(replicas.map((replica) => served(replica).length)).toEqual([4, 2, 2]);
  });

  test('a model with one `backend` still works as before', async () => {
    await start((input) => {
      input.models['gpt-4'] = { ...input.models['gpt-4'], backend: 'r2', backends: undefined };
    });
    for (let i = 0; i < 3; i++) expect((await gateway!.post(key, '/v1/chat/completions', chat())).status).toBe(200);
    expect(replicas.map((replica) => served(replica).length)).toEqual([0, 0, 3]);
  });
});
