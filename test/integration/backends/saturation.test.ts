// Every replica at its in-flight limit: requests wait in a bounded queue, fair between keys;
// past it, 503 with Retry-After, and the reservation is released (one final row at no cost).
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { parseUsd } from '../../../src/pricing';
import type { FakeVllm } from '../../doubles/fake-vllm';
import { budgetOf, errorOf, setBudget, settledBudget } from '../billing/ledger-view';
import { databases, type TestStore } from '../support/databases';
import { chat, ledgerRows, type ReplicaGateway, replicaConfigInput, served, startReplicaGateway, startReplicas, until } from './replicas';

/** A gate for streams (they wait on it before their last token) and its opener. */
function gate() {
  let open!: () => void;
  return { gate: new Promise<void>((resolve) => (open = resolve)), open: () => open() };
}

describe.each(databases)('saturation on $name', (database) => {
  let replicas: FakeVllm[];
  let store: TestStore;
  let gateway: ReplicaGateway | undefined;

  beforeAll(async () => {
    replicas = await startReplicas(3, { completionTokens: 4 });
    store = await database.open();
  });
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
    for (const replica of replicas) replica.reset();
  });
  afterAll(async () => {
    await store?.close();
    for (const replica of replicas ?? []) await replica.close();
  });

  const waiting = () => gateway!.deps().backends.route('gpt-4')!.waiting;

  test('full replicas and a full queue: 503 with Retry-After at once; a wait past its bound: 503; reservations released', async () => {
    gateway = await startReplicaGateway({
      store,
      config: replicaConfigInput(replicas, (input) => {
        for (const backend of Object.values<any>(input.backends)) backend.maxInFlight = 1;
        input.gateway.queue = { size: 2, maxWaitMs: 1_500 };
      }),
    });
    const { id, key } = await gateway.createKey();
    await setBudget(gateway.admin, id, '10');
    const held = gate();
    for (const replica of replicas) replica.behave({ gate: held.gate });
    const post = (requestId: string) => gateway!.post(key, '/v1/chat/completions', chat({ stream: true }), { 'x-request-id': requestId });

    const running = ['run-0', 'run-1', 'run-2'].map(post);
    await until('a stream on each replica', () => replicas.every((replica) => replica.inFlight === 1));
    const queued = ['wait-0', 'wait-1'].map(post);
    await until('two waiting', () => waiting() === 2);
    const reservedWhileWaiting = parseUsd((await budgetOf(gateway.admin, id)).reserved);
    expect(reservedWhileWaiting).toBeGreaterThan(0n);

    const refused = await post('full');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('2');
    expect(await errorOf(refused)).toMatchObject({ code: 'model_saturated', type: 'server_error' });

    // The two waiting give up once their wait is over: 503 too, never sent to a replica.
    for (const response of await Promise.all(queued)) {
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('2');
    }
    expect(replicas.reduce((sum, replica) => sum + served(replica).length, 0)).toBe(3);
    held.open();
    for (const response of await Promise.all(running)) expect(await response.text()).toContain('[DONE]');

    const rows = await ledgerRows(gateway, id);
    const refusedRows = rows.filter((row) => row.status !== 'ok');
    expect(refusedRows.map((row) => row.request_id).sort()).toEqual(['full', 'wait-0', 'wait-1']);
    for (const row of refusedRows)
      expect(row).toMatchObject({ status: 'upstream_error', error_code: 'model_saturated', billed_cost: '0', attempts: 0 });
    const budget = await settledBudget(gateway.admin, gateway.flush, id);
    expect(budget.reserved).toBe('0');
    expect(parseUsd(budget.spent)).toBe(rows.reduce((sum, row) => sum + BigInt(row.billed_cost), 0n));
  });

  test('a waiting request goes as soon as a slot frees', async () => {
    gateway = await startReplicaGateway({
      store,
      config: replicaConfigInput(replicas.slice(0, 1), (input) => {
        input.backends.r0.maxInFlight = 1;
      }),
    });
    const { key } = await gateway.createKey();
    const held = gate();
    replicas[0]!.behave({ gate: held.gate });
    const first = gateway.post(key, '/v1/chat/completions', chat({ stream: true }));
    await until('the first at the replica', () => replicas[0]!.inFlight === 1);
    const second = gateway.post(key, '/v1/chat/completions', chat());
    await until('the second waiting', () => waiting() === 1);
    expect(served(replicas[0]!)).toHaveLength(1);
    held.open();
    expect(await (await first).text()).toContain('[DONE]');
    expect((await second).status).toBe(200);
    expect(served(replicas[0]!)).toHaveLength(2);
  });

  test('a stream whose client leaves while it waits for a replica: never sent, nothing billed, reservation released', async () => {
    gateway = await startReplicaGateway({
      store,
      config: replicaConfigInput(replicas.slice(0, 1), (input) => {
        input.backends.r0.maxInFlight = 1;
        input.gateway.queue = { size: 10, maxWaitMs: 60_000 };
      }),
    });
    const { id, key } = await gateway.createKey();
    await setBudget(gateway.admin, id, '10');
    const held = gate();
    replicas[0]!.behave({ gate: held.gate });
    const first = gateway.post(key, '/v1/chat/completions', chat({ stream: true }), { 'x-request-id': 'holder' });
    await until('the first at the replica', () => replicas[0]!.inFlight === 1);
    const controller = new AbortController();
    const left = gateway.post(key, '/v1/chat/completions', chat({ stream: true }), { 'x-request-id': 'leaver' }, controller.signal);
    await until('the second waiting', () => waiting() === 1);
    controller.abort();
    await expect(left).rejects.toThrow();
    await until('the queue empty', () => waiting() === 0);
    held.open();
    expect(await (await first).text()).toContain('[DONE]');

    expect(served(replicas[0]!).map((request) => request.headers['x-request-id'])).toEqual(['holder']);
    const leaver = (await ledgerRows(gateway, id)).find((row) => row.request_id === 'leaver');
    expect(leaver).toMatchObject({ status: 'client_disconnected', billed_cost: '0', attempts: 0 });
    expect([Number(leaver!.prompt_tokens), Number(leaver!.completion_tokens)]).toEqual([0, 0]);
    expect((await settledBudget(gateway.admin, gateway.flush, id)).reserved).toBe('0');
  });

  test('one noisy key cannot starve another: the quiet key waits behind at most one of its requests', async () => {
    gateway = await startReplicaGateway({
      store,
      config: replicaConfigInput(replicas.slice(0, 1), (input) => {
        input.backends.r0.maxInFlight = 1;
        input.gateway.queue = { size: 100, maxWaitMs: 60_000 };
      }),
    });
    const noisy = await gateway.createKey({ name: 'noisy' });
    const quiet = await gateway.createKey({ name: 'quiet' });
    const held = gate();
    replicas[0]!.behave({ gate: held.gate });
    const post = (key: string, requestId: string) =>
      gateway!.post(key, '/v1/chat/completions', chat({ stream: true }), { 'x-request-id': requestId }).then((r) => r.text());
    const all = [post(noisy.key, 'noisy-0')];
    await until('the first at the replica', () => replicas[0]!.inFlight === 1);
    // One at a time, so their order in the queue is known.
    for (let i = 1; i <= 10; i++) {
      all.push(post(noisy.key, `noisy-${i}`));
      await until(`noisy-${i} waiting`, () => waiting() === i);
    }
    all.push(post(quiet.key, 'quiet'));
    await until('the quiet one waiting too', () => waiting() === 11);
    held.open();
    for (const body of await Promise.all(all)) expect(body).toContain('[DONE]');

    const order = served(replicas[0]!).map((request) => request.headers['x-request-id']);
    expect(order).toHaveLength(12);
    // First in, first out would send it last (12th); taking turns sends it third, after one more noisy request.
    expect(order.slice(0, 3)).toEqual(['noisy-0', 'noisy-1', 'quiet']);
    expect(order.slice(3)).toEqual(Array.from({ length: 9 }, (_, i) => `noisy-${i + 2}`));
  });
});
