import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sha256Hex } from '../../../src/auth';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { buildTestApp, type TestApp } from '../../support/app';
import { ADMIN_TOKEN, testConfig } from '../../support/gateway';
import { databases } from '../support/databases';

describe.each(databases)('API keys on $name', (database) => {
  let backend: FakeVllm;
  // Driven in process with app.request: nothing here needs the gateway on a port.
  let gateway: TestApp;

  beforeAll(async () => {
    backend = await startFakeVllm();
    gateway = await buildTestApp({ store: await database.open(), config: testConfig(backend.url) });
  });
  afterAll(async () => {
    await gateway?.flush();
    await gateway?.store.close();
    await backend?.close();
  });

  const call = async (key: string, path = '/v1/models', init: RequestInit = {}) =>
    gateway.app.request(path, { ...init, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } });

  test('unknown, revoked, expired and malformed keys all get one identical 401', async () => {
    const revoked = await gateway.createKey({ name: 'to revoke' });
    expect((await call(revoked.key)).status).toBe(200);
    expect((await gateway.admin('DELETE', `/admin/keys/${revoked.id}`)).status).toBe(200);
    const expired = await gateway.createKey({ name: 'expired', expiresAt: new Date(Date.now() - 1000).toISOString() });

    const answers = [];
    for (const key of ['tg_unknownunknownunknownunknown00', revoked.key, expired.key, 'x']) {
      const response = await call(key);
      answers.push({ status: response.status, body: await response.text() });
    }
    const noHeader = await gateway.app.request('/v1/models');
    answers.push({ status: noHeader.status, body: await noHeader.text() });
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    expect(answers[0]!.status).toBe(401);
    expect(JSON.parse(answers[0]!.body).error.code).toBe('invalid_api_key');
  });

  test('a revoked key is refused at once, even while its auth is cached', async () => {
    const { id, key } = await gateway.createKey({ name: 'hot' });
    const body = JSON.stringify({ model: 'gpt-4', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    expect((await call(key, '/v1/chat/completions', { method: 'POST', body })).status).toBe(200);
    await gateway.admin('DELETE', `/admin/keys/${id}`);
    expect((await call(key, '/v1/chat/completions', { method: 'POST', body })).status).toBe(401);
  });

  test('scopes: an application key cannot read admin or report routes; a reports key cannot proxy', async () => {
    const app = await gateway.createKey({ name: 'app', scopes: ['proxy'] });
    const finance = await gateway.createKey({ name: 'finance', scopes: ['reports'] });
    expect((await call(app.key, '/admin/keys')).status).toBe(403);
    expect((await call(finance.key, '/admin/keys')).status).toBe(403);
    expect(
      (await call(finance.key, `/admin/keys/${app.id}/budget`, { method: 'PUT', body: '{"limit":"1","period":"month"}' })).status,
    ).toBe(403);
    const proxied = await call(finance.key, '/v1/models');
    expect(proxied.status).toBe(403);
    expect(((await proxied.json()) as { error: { code: string } }).error.code).toBe('insufficient_scope');
  });

  test('only the SHA-256 of a key is stored, and neither secret nor hash is ever returned', async () => {
    const created = await gateway.admin('POST', '/admin/keys', { name: 'stored' });
    const { id, key, prefix } = (await created.json()) as { id: string; key: string; prefix: string };
    expect(key.startsWith('tg_')).toBe(true);
    expect(key.startsWith(prefix)).toBe(true);
    const rows = await gateway.store.rows<{ row: string }>(sql`SELECT row_to_json(k)::text AS row FROM api_keys k WHERE id = ${id}`);
    expect(rows[0]!.row).not.toContain(key);
    expect(rows[0]!.row).toContain(sha256Hex(key));
    const listed = await (await gateway.admin('GET', '/admin/keys')).text();
    const shown = await (await gateway.admin('GET', `/admin/keys/${id}`)).text();
    for (const text of [listed, shown]) {
      expect(text).not.toContain(key);
      expect(text).not.toContain(sha256Hex(key));
    }
  });

  test('rotation invalidates the old secret and the new one works', async () => {
    const { id, key } = await gateway.createKey({ name: 'rotating' });
    expect((await call(key)).status).toBe(200);
    const rotated = (await (await gateway.admin('POST', `/admin/keys/${id}/rotate`)).json()) as { id: string; key: string };
    expect(rotated.id).toBe(id);
    expect(rotated.key).not.toBe(key);
    expect((await call(key)).status).toBe(401);
    expect((await call(rotated.key)).status).toBe(200);
  });

  test('the operator token holds admin scope but does not proxy; a wrong token is 401', async () => {
    expect((await call(ADMIN_TOKEN, '/admin/keys')).status).toBe(200);
    expect((await call(ADMIN_TOKEN, '/v1/models')).status).toBe(403);
    expect((await call(`${ADMIN_TOKEN}x`, '/admin/keys')).status).toBe(401);
  });

  test('allowed models are enforced and listed', async () => {
    const { key } = await gateway.createKey({ name: 'narrow', allowedModels: ['gpt-4'] });
    const models = (await (await call(key)).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id)).toEqual(['gpt-4']);
    const refused = await call(key, '/v1/chat/completions', {
      method: 'POST',
      body: JSON.stringify({ model: 'gpt-4-32k', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(refused.status).toBe(403);
  });
});
