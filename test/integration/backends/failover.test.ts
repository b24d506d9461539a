// Replicas that die, refuse, cut streams and come back: a request is retried on another replica
// only when nothing of it can have been processed, and whatever happens it has one ledger row,
// billed once, with its attempts and the replica that served it.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { parseUsd } from '../../../src/pricing';
import type { FakeVllm } from '../../doubles/fake-vllm';
import { neverAccepting } from '../../support/never-accepting';
import { errorOf, setBudget, settledBudget } from '../billing/ledger-view';
import { readStream, receivedTokens } from '../billing/stream-client';
import { databases, type TestStore } from '../support/databases';
import { chat, ledgerRows, type ReplicaGateway, replicaConfigInput, served, startReplicaGateway, startReplicas, until } from './replicas';

describe.each(databases)('failover on $name', (database) => {
  let replicas: FakeVllm[];
  let store: TestStore;
  let gateway: ReplicaGateway | undefined;

  beforeAll(async () => {
    replicas = await startReplicas(3, { completionTokens: 12 });
    store = await database.open();
  });
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
    for (const replica of replicas) {
      await replica.start();
      replica.reset();
    }
  });
  afterAll(async () => {
    await store?.close();
    for (const replica of replicas ?? []) await replica.close();
  });

  async function start(patch: (input: any) => void = () => {}) {
    gateway = await startReplicaGateway({ store, config: replicaConfigInput(replicas, patch) });
    const created = await gateway.createKey();
    await setBudget(gateway.admin, created.id, '100');
    return { gateway, ...created };
  }

  test('a replica killed mid-run: no retryable request is lost, every request has one row billed once, retries recorded', async () => {
    const { gateway, id, key } = await start();
    // Each answer takes a while, so the kill finds requests in flight on the dying replica.
    for (const replica of replicas) replica.behave({ completionTokens: 12, tokenMs: 15 });
    const outcomes: { requestId: string; stream: boolean; status: number; done: boolean; broken: boolean; received: number }[] = [];
    let next = 0;
    const send = async () => {
      for (let n = next++; n < 48; n = next++) {
        const requestId = `kill-${n}`;
        const stream = n % 2 === 1;
        const response = await gateway.post(key, '/v1/chat/completions', chat({ stream }), { 'x-request-id': requestId });
        if (!stream) {
          outcomes.push({ requestId, stream, status: response.status, done: response.status === 200, broken: false, received: 0 });
          await response.text();
          continue;
        }
        const read = await readStream(response);
        outcomes.push({
          requestId,
          stream,
          status: response.status,
          done: read.error === null,
          broken: read.error !== null,
          received: receivedTokens(read),
        });
      }
    };
    const clients = Array.from({ length: 6 }, send);
    await until('two requests in flight on replica 1', () => replicas[1]!.inFlight >= 2);
    await replicas[1]!.stop();
    await Promise.all(clients);

    expect(outcomes).toHaveLength(48);
    // Non-streamed requests had sent nothing to their clients: every one was answered, by a retry if need be.
    for (const outcome of outcomes.filter((o) => !o.stream)) expect(outcome, outcome.requestId).toMatchObject({ status: 200, done: true });
    // A stream cut after its first byte ends with an error event; it is not retried.
    for (const outcome of outcomes.filter((o) => o.stream)) expect(outcome.status, outcome.requestId).toBe(200);

    const rows = await ledgerRows(gateway, id);
    expect(rows.map((row) => row.request_id).sort()).toEqual(outcomes.map((o) => o.requestId).sort());
    const byId = new Map(rows.map((row) => [row.request_id, row]));
    const retried = rows.filter((row) => row.attempts > 1);
    expect(retried.length).toBeGreaterThan(0);
    for (const row of retried) {
      expect(row.status).toBe('ok');
      expect(row.replica).not.toBe('r1');
    }
    for (const outcome of outcomes) {
      const row = byId.get(outcome.requestId)!;
      if (outcome.broken) {
        expect(row, outcome.requestId).toMatchObject({
          status: 'upstream_error',
          error_code: 'upstream_stream_broken',
          replica: 'r1',
          attempts: 1,
        });
        expect(Number(row.completion_tokens)).toBeGreaterThanOrEqual(outcome.received);
      } else expect(row.status, outcome.requestId).toBe('ok');
    }
    // Billed once: the budget's spend is exactly the rows' sum, and nothing stays reserved.
    const budget = await settledBudget(gateway.admin, gateway.flush, id);
    expect(budget.reserved).toBe('0');
    expect(parseUsd(budget.spent)).toBe(rows.reduce((sum, row) => sum + BigInt(row.billed_cost), 0n));
    // Each request reached the backends once per attempt (plus none for the dead replica's refusals).
    const posts = replicas.reduce((sum, replica) => sum + served(replica).length, 0);
    expect(posts).toBeLessThanOrEqual(rows.reduce((sum, row) => sum + row.attempts, 0));
  });

  test('a stream cut by its dying replica after the first byte is not retried and is billed for what was relayed', async () => {
    const { gateway, id, key } = await start();
    for (const replica of replicas) replica.behave({ completionTokens: 30, fail: { kind: 'disconnect', afterChunks: 4 } });
    const read = await readStream(
      await gateway.post(key, '/v1/chat/completions', chat({ stream: true, max_tokens: 40 }), { 'x-request-id': 'cut' }),
    );
    expect(read.error).toMatchObject({ code: 'upstream_stream_broken' });
    const received = receivedTokens(read);
    expect(received).toBeGreaterThan(0);
    expect(replicas.reduce((sum, replica) => sum + served(replica).length, 0)).toBe(1);
    const [row] = await ledgerRows(gateway, id);
    expect(row).toMatchObject({ request_id: 'cut', status: 'upstream_error', attempts: 1 });
    expect(Number(row!.completion_tokens)).toBeGreaterThanOrEqual(received);
    expect(BigInt(row!.billed_cost)).toBeGreaterThan(0n);
  });

  test('connection refused before any byte: retried on another replica, billed once for the answer', async () => {
    const { gateway, id, key } = await start();
    replicas[2]!.behave({ completionTokens: 12 });
    await replicas[0]!.stop();
    await replicas[1]!.stop();
    const response = await gateway.post(key, '/v1/chat/completions', chat(), { 'x-request-id': 'refused' });
    expect(response.status).toBe(200);
    const [row] = await ledgerRows(gateway, id);
    expect(row).toMatchObject({ request_id: 'refused', status: 'ok', replica: 'r2', attempts: 3 });
    expect(Number(row!.completion_tokens)).toBe(12);
  });

  test('a replica whose host never completes the connection: given up after the connect timeout, retried on another, billed once', async () => {
    const wedged = await neverAccepting();
    try {
      gateway = await startReplicaGateway({
        store,
        connectTimeoutMs: 300,
        // r0's host takes no connection; its request deadline (10 s) alone would end in a 504, never retried.
        config: replicaConfigInput(replicas, (input) => (input.backends.r0.url = `http://127.0.0.1:${wedged.port}/v1`)),
      });
      const { id, key } = await gateway.createKey();
      await setBudget(gateway.admin, id, '100');
      await replicas[1]!.stop();
      replicas[2]!.behave({ completionTokens: 12 });
      const response = await gateway.post(key, '/v1/chat/completions', chat(), { 'x-request-id': 'wedged' });
      expect(response.status).toBe(200);
      const [row] = await ledgerRows(gateway, id);
      expect(row).toMatchObject({ request_id: 'wedged', status: 'ok', replica: 'r2', attempts: 3 });
      expect(Number(row!.completion_tokens)).toBe(12);
    } finally {
      wedged.close();
    }
  });

  test('every replica refusing: 502, one row at no cost, the reservation released', async () => {
    const { gateway, id, key } = await start();
    for (const replica of replicas) await replica.stop();
    const error = await errorOf(await gateway.post(key, '/v1/chat/completions', chat(), { 'x-request-id': 'all-down' }));
    expect(error).toMatchObject({ status: 502, code: 'upstream_unreachable' });
    const [row] = await ledgerRows(gateway, id);
    expect(row).toMatchObject({ request_id: 'all-down', status: 'upstream_error', attempts: 3, billed_cost: '0' });
    expect(await settledBudget(gateway.admin, gateway.flush, id)).toMatchObject({ spent: '0', reserved: '0' });
  });

  test('503 and 429 before any byte: retried elsewhere; the busy replicas are left alone for their Retry-After', async () => {
    const { gateway, id, key } = await start();
    replicas[0]!.behave({ fail: { status: 503, retryAfter: 30 } });
    replicas[1]!.behave({ fail: { status: 429, retryAfter: 30 } });
    for (let i = 0; i < 6; i++) {
      const response = await gateway.post(key, '/v1/chat/completions', chat(), { 'x-request-id': `busy-${i}` });
      expect(response.status).toBe(200);
    }
    expect(replicas.map((replica) => served(replica).length)).toEqual([1, 1, 6]);
    const rows = await ledgerRows(gateway, id);
    expect(rows.map((row) => [row.request_id, row.attempts, row.replica, row.status])).toEqual([
      ['busy-0', 3, 'r2', 'ok'],
      ...[1, 2, 3, 4, 5].map((i) => [`busy-${i}`, 1, 'r2', 'ok']),
    ]);
  });

  test('every replica busy: the last 503 reaches the client with its Retry-After, at no cost', async () => {
    const { gateway, id, key } = await start();
    for (const replica of replicas) replica.behave({ fail: { status: 503, retryAfter: 7 } });
    const response = await gateway.post(key, '/v1/chat/completions', chat(), { 'x-request-id': 'busy' });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('7');
    const [row] = await ledgerRows(gateway, id);
    expect(row).toMatchObject({ status: 'upstream_error', error_code: 'upstream_503', attempts: 3, billed_cost: '0' });
  });

  test('a timeout is never retried (the backend may have done the work)', async () => {
    const { gateway, id, key } = await start((input) => {
      for (const backend of Object.values<any>(input.backends)) backend.timeoutMs = 500;
    });
    for (const replica of replicas) replica.behave({ fail: { kind: 'hang' } });
    expect(await errorOf(await gateway.post(key, '/v1/chat/completions', chat(), { 'x-request-id': 'slow' }))).toMatchObject({
      status: 504,
      code: 'upstream_timeout',
    });
    expect(replicas.reduce((sum, replica) => sum + served(replica).length, 0)).toBe(1);
    const [row] = await ledgerRows(gateway, id);
    expect(row).toMatchObject({ status: 'timeout', attempts: 1 });
  });

  test('a replica that comes back is used again', async () => {
    const { gateway, key } = await start();
    await replicas[2]!.stop();
    // Sequential requests: the dead replica is found out (and retried around), then skipped.
    for (let i = 0; i < 6; i++) expect((await gateway.post(key, '/v1/chat/completions', chat())).status).toBe(200);
    expect(gateway.pool.replicas.get('r2')!.healthy).toBe(false);
    await replicas[2]!.start();
    // Once its back-off has passed, a trial request finds it alive, and it takes its share again.
    await until('the replica to serve again', async () => {
      expect((await gateway.post(key, '/v1/chat/completions', chat())).status).toBe(200);
      return served(replicas[2]!).length >= 3;
    });
    expect(gateway.pool.replicas.get('r2')!.healthy).toBe(true);
  });
});
