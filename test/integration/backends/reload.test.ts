// Config reload: a good file changes routing and prices for new requests only (requests already
// running finish on the config they started with); a bad file changes nothing. In process through
// POST /admin/reload, and on the built server through SIGHUP.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { openStore } from '../../../src/store/open';
import type { FakeVllm } from '../../doubles/fake-vllm';
import { startGatewayProcess } from '../../support/gateway';
import { adminOf, tempDir, waitFor } from '../../support/resilience';
import { chat, ledgerRows, type ReplicaGateway, replicaConfigInput, served, startReplicaGateway, startReplicas, until } from './replicas';

let replicas: FakeVllm[];
let gateway: ReplicaGateway | undefined;

beforeAll(async () => {
  replicas = await startReplicas(2, { completionTokens: 10 });
});
afterEach(async () => {
  await gateway?.stop();
  await gateway?.store.close();
  gateway = undefined;
  for (const replica of replicas) replica.reset();
});
afterAll(async () => {
  for (const replica of replicas ?? []) await replica.close();
});

/** Model gpt-4 on replica r0 only, at the seed prices. */
const onFirst = (patch: (input: any) => void = () => {}) =>
  replicaConfigInput(replicas, (input) => {
    input.models['gpt-4'].backends = ['r0'];
    patch(input);
  });

function gate() {
  let open!: () => void;
  return { gate: new Promise<void>((resolve) => (open = resolve)), open: () => open() };
}

describe('POST /admin/reload', () => {
  test('a good file: new requests go to the new replica at the new price; the one already running finishes on the old', async () => {
    gateway = await startReplicaGateway({ store: await openStore({ dataDir: 'memory://' }), config: onFirst() });
    const { id, key } = await gateway.createKey();
    const held = gate();
    replicas[0]!.behave({ gate: held.gate });
    const before = gateway.post(key, '/v1/chat/completions', chat({ stream: true }), { 'x-request-id': 'before' }).then((r) => r.text());
    await until('the first request at r0', () => replicas[0]!.inFlight === 1);

    gateway.writeConfig(
      onFirst((input) => {
        input.models['gpt-4'].backends = ['r1'];
        input.models['gpt-4'].pricePer1k = { prompt: '0.05', completion: '0.1' };
      }),
    );
    const reloaded = await gateway.admin('POST', '/admin/reload');
    expect(reloaded.status).toBe(200);
    expect(await reloaded.json()).toEqual({
      status: 'reloaded',
      models: ['gpt-4', 'gpt-4-32k'],
      replicas: ['r1', 'r0'],
      repriced: ['gpt-4'],
    });
    expect(gateway.logs.some((line) => line.startsWith('tollgate: config reloaded:'))).toBe(true);

    expect((await gateway.post(key, '/v1/chat/completions', chat(), { 'x-request-id': 'after' })).status).toBe(200);
    expect(served(replicas[1]!)).toHaveLength(1);
    held.open();
    expect(await before).toContain('[DONE]');

    const prices = (await (await gateway.admin('GET', '/admin/models/gpt-4/prices')).json()) as { data: { id: number; prompt: string }[] };
    expect(prices.data.map((price) => price.prompt)).toEqual(['0.03', '0.05']);
    const [oldPrice, newPrice] = prices.data;
    const rows = new Map((await ledgerRows(gateway, id)).map((row) => [row.request_id, row]));
    expect(rows.get('before')).toMatchObject({ status: 'ok', replica: 'r0', price_id: oldPrice!.id });
    expect(rows.get('after')).toMatchObject({ status: 'ok', replica: 'r1', price_id: newPrice!.id });
  });

  test('a price the file did not change stays as the admin API set it; an unchanged file adds no price version', async () => {
    gateway = await startReplicaGateway({ store: await openStore({ dataDir: 'memory://' }), config: onFirst() });
    expect((await gateway.admin('PUT', '/admin/models/gpt-4/price', { prompt: '0.04', completion: '0.08' })).status).toBe(201);
    const reloaded = await gateway.admin('POST', '/admin/reload');
    expect(await reloaded.json()).toMatchObject({ status: 'reloaded', repriced: [] });
    const prices = (await (await gateway.admin('GET', '/admin/models/gpt-4/prices')).json()) as { data: { prompt: string }[] };
    expect(prices.data.map((price) => price.prompt)).toEqual(['0.03', '0.04']);
  });

  test.each([
    ['not JSON', '{"backends": ', /not JSON/],
    ['a bad field', () => onFirst((input) => (input.models['gpt-4'].pricePer1k.prompt = 0.03)), /models\.gpt-4\.pricePer1k\.prompt/],
    [
      'an unknown replica',
      () => onFirst((input) => (input.models['gpt-4'].backends = ['r0', 'nope'])),
      /models\.gpt-4\.backends\.1: names no backend "nope"/,
    ],
    [
      'both backend and backends',
      () => onFirst((input) => (input.models['gpt-4'].backend = 'r0')),
      /exactly one of "backend" and "backends"/,
    ],
  ])('a bad file (%s) changes nothing: 400 with the reason, a log line, the running config stays', async (_name, file, reason) => {
    gateway = await startReplicaGateway({ store: await openStore({ dataDir: 'memory://' }), config: onFirst() });
    const { key } = await gateway.createKey();
    gateway.writeConfig(typeof file === 'string' ? file : file());
    const refused = await gateway.admin('POST', '/admin/reload');
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('invalid_config');
    expect(body.error.message).toMatch(reason);
    expect(gateway.logs.some((line) => line.startsWith('tollgate: config reload refused, the running config stays:'))).toBe(true);
    expect((await gateway.post(key, '/v1/chat/completions', chat())).status).toBe(200);
    expect(served(replicas[0]!)).toHaveLength(1);
    const prices = (await (await gateway.admin('GET', '/admin/models/gpt-4/prices')).json()) as { data: unknown[] };
    expect(prices.data).toHaveLength(1);
  });

  test('every reload, applied or refused, is in the audit log with who asked', async () => {
    gateway = await startReplicaGateway({ store: await openStore({ dataDir: 'memory://' }), config: onFirst() });
    gateway.writeConfig('{ not json');
    expect((await gateway.admin('POST', '/admin/reload')).status).toBe(400);
    gateway.writeConfig(JSON.stringify(onFirst()));
    expect((await gateway.admin('POST', '/admin/reload')).status).toBe(200);
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const audit = (await (await gateway.admin('GET', `/reports/audit?action=config.reload&from=${day(-1)}&to=${day(1)}`)).json()) as {
      data: { actor: string; action: string; detail: Record<string, unknown> }[];
    };
    const reloads = audit.data.filter((entry) => entry.action === 'config.reload');
    expect(reloads).toHaveLength(2);
    expect(reloads.every((entry) => entry.actor === 'operator')).toBe(true);
    expect(reloads.some((entry) => typeof entry.detail.refused === 'string')).toBe(true);
    expect(reloads.some((entry) => Array.isArray(entry.detail.models))).toBe(true);
  });

  test('only the operator may reload', async () => {
    gateway = await startReplicaGateway({ store: await openStore({ dataDir: 'memory://' }), config: onFirst() });
    const { key } = await gateway.createKey();
    const response = await fetch(`${gateway.url}/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
    expect(response.status).toBe(403);
  });
});

describe('SIGHUP', () => {
  test('the built server re-reads its config file: a new replica and price for new requests; a bad file is logged and changes nothing', async () => {
    const dir = tempDir('sighup');
    const path = join(dir, 'tollgate.json');
    writeFileSync(path, JSON.stringify(onFirst()));
    const process = await startGatewayProcess({ env: { TOLLGATE_CONFIG: path } });
    try {
      const admin = adminOf(process);
      const { key } = await admin.createKey('sighup');
      const ask = () =>
        fetch(`${process.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify(chat()),
        });
      expect((await ask()).status).toBe(200);
      expect(served(replicas[0]!)).toHaveLength(1);

      const next = JSON.parse(readFileSync(path, 'utf8'));
      next.models['gpt-4'].backends = ['r1'];
      next.models['gpt-4'].pricePer1k.prompt = '0.07';
      writeFileSync(path, JSON.stringify(next));
      process.child.kill('SIGHUP');
      await waitFor('the reload', () => process.output().includes('tollgate: config reloaded:'));
      expect((await ask()).status).toBe(200);
      expect(served(replicas[1]!)).toHaveLength(1);
      const prices = (await (await admin.call('GET', '/admin/models/gpt-4/prices')).json()) as { data: { prompt: string }[] };
      expect(prices.data.map((price) => price.prompt)).toEqual(['0.03', '0.07']);

      writeFileSync(path, '{"models": {}}');
      process.child.kill('SIGHUP');
      await waitFor('the refusal', () => process.output().includes('config reload refused, the running config stays'));
      expect(process.output()).toMatch(/backends: /);
      expect((await ask()).status).toBe(200);
      expect(served(replicas[1]!)).toHaveLength(2);
    } finally {
      await process.stop();
    }
  });
});
