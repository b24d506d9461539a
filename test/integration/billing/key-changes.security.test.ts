import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { Store } from '../../../src/store/db';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { buildTestApp, type TestApp } from '../../support/app';
import { awayFromMinuteEdge } from '../../support/clock';
import { testConfig } from '../../support/gateway';
import { closePeer, databases, openPeer, type TestStore } from '../support/databases';
import { errorOf } from './ledger-view';

// Finding 13: scope, model and rate changes took ~5 s (the auth cache) to reach other instances,
// while revocation was immediate. Admission now reads the scopes, allowed models and rpm/tpm from
// the key row in the statement that reserves, so a change made through one instance binds the
// next request on every other, even one that has the key's auth cached.

describe.each(databases)('key changes bind every instance at once, on $name', (database) => {
  let backend: FakeVllm;
  let store: TestStore;
  let peerStore: Store;
  /** The instance the operator talks to, and another one serving the application. */
  let operatorSide: TestApp;
  let serving: TestApp;

  beforeAll(async () => {
    backend = await startFakeVllm({ completionTokens: 2 });
    store = await database.open();
    peerStore = await openPeer(store);
    const config = testConfig(backend.url);
    operatorSide = await buildTestApp({ store, config });
    serving = await buildTestApp({ store: peerStore, config });
  });
  afterAll(async () => {
    await serving?.flush();
    await operatorSide?.flush();
    if (peerStore) await closePeer(store, peerStore);
    await store?.close();
    await backend?.close();
  });
  beforeEach(() => {
    backend.reset();
    backend.behave({ completionTokens: 2 });
  });

  const chat = (key: string, model = 'gpt-4') =>
    serving.call(key, '/v1/chat/completions', { model, messages: [{ role: 'user', content: 'still allowed?' }], max_tokens: 2 });
  const change = async (id: string, patch: Record<string, unknown>) => {
    const response = await operatorSide.admin('PATCH', `/admin/keys/${id}`, patch);
    expect(response.status).toBe(200);
  };
  /** The serving instance has the key's auth cached: one request passed through it. */
  async function warmKey(body: Record<string, unknown> = {}) {
    const created = await operatorSide.createKey({ name: 'changing', ...body });
    const response = await chat(created.key);
    expect(response.status).toBe(200);
    await response.text();
    backend.reset();
    return created;
  }

  test('the proxy scope taken away: the next request on the other instance is 403, and nothing is sent', async () => {
    const { id, key } = await warmKey({ scopes: ['proxy', 'reports'] });
    await change(id, { scopes: ['reports'] });
    expect(await errorOf(await chat(key))).toMatchObject({ status: 403, code: 'model_not_allowed' });
    expect(backend.received).toHaveLength(0);
  });

  test('the proxy scope given back: the other instance, which refused the key a moment ago, serves its next request', async () => {
    const { id, key } = await warmKey({ scopes: ['proxy', 'reports'] });
    await change(id, { scopes: ['reports'] });
    // The serving instance sees the key without `proxy` now, by admission and then by auth.
    expect((await errorOf(await chat(key))).status).toBe(403);
    expect((await errorOf(await chat(key))).status).toBe(403);
    await change(id, { scopes: ['proxy', 'reports'] });
    const response = await chat(key);
    expect(response.status).toBe(200);
    await response.text();
    expect(backend.received).toHaveLength(1);
  });

  test('the model taken away: the next request for it on the other instance is 403', async () => {
    const { id, key } = await warmKey();
    await change(id, { allowedModels: ['gpt-4-32k'] });
    expect(await errorOf(await chat(key))).toMatchObject({ status: 403, code: 'model_not_allowed', param: 'model' });
    expect(backend.received).toHaveLength(0);
    const allowed = await chat(key, 'gpt-4-32k');
    expect(allowed.status).toBe(200);
  });

  test('a model given: the next request for it on the other instance is served', async () => {
    const { id, key } = await warmKey({ allowedModels: ['gpt-4'] });
    await change(id, { allowedModels: ['gpt-4', 'gpt-4-32k'] });
    const response = await chat(key, 'gpt-4-32k');
    expect(response.status).toBe(200);
    expect(backend.received).toHaveLength(1);
  });

  test('an rpm set: it binds the other instance from its next request', async () => {
    await awayFromMinuteEdge();
    const { id, key } = await warmKey();
    await change(id, { options: { rpm: 1 } });
    expect((await chat(key)).status).toBe(200);
    expect(await errorOf(await chat(key))).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
    expect(backend.received).toHaveLength(1);
  });

  test('a tpm set: it binds the other instance from its next request', async () => {
    await awayFromMinuteEdge();
    const { id, key } = await warmKey();
    await change(id, { options: { tpm: 5 } });
    expect(await errorOf(await chat(key))).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
    expect(backend.received).toHaveLength(0);
  });

  test('revocation binds at once, as before', async () => {
    const { id, key } = await warmKey();
    expect((await operatorSide.admin('DELETE', `/admin/keys/${id}`)).status).toBe(200);
    expect(await errorOf(await chat(key))).toMatchObject({ status: 401, code: 'invalid_api_key' });
    expect(backend.received).toHaveLength(0);
  });
});
