import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { buildTestApp, type TestApp } from '../../support/app';
import { testConfig } from '../../support/gateway';
import { databases } from '../support/databases';
import { errorOf, finalRow, type LedgerRow, setBudget, settledBudget } from './ledger-view';

// Finding 12: request ids were unique across all tenants. Key A's `x-request-id: X` made key B's
// later request with X a 409: a denial of service (guess or see an id, block it) and an oracle
// (a 409 told B that someone had used X). Ids are now unique per key, and the operator says
// which key's row to show (`/admin/requests/:id?keyId=`).

describe.each(databases)('request ids belong to their key, on $name', (database) => {
  let backend: FakeVllm;
  let gateway: TestApp;

  beforeAll(async () => {
    backend = await startFakeVllm({ completionTokens: 3 });
    gateway = await buildTestApp({ store: await database.open(), config: testConfig(backend.url) });
  });
  afterAll(async () => {
    await gateway?.flush();
    await gateway?.store.close();
    await backend?.close();
  });
  beforeEach(() => {
    backend.reset();
    backend.behave({ completionTokens: 3 });
  });

  const chat = (key: string, requestId: string, stream = false) =>
    gateway.call(
      key,
      '/v1/chat/completions',
      { model: 'gpt-4', messages: [{ role: 'user', content: 'Which id?' }], max_tokens: 3, stream },
      { 'x-request-id': requestId },
    );
  async function tenant(name: string) {
    const created = await gateway.createKey({ name });
    await setBudget(gateway.admin, created.id, '1');
    return created;
  }

  test("another key's use of an id neither blocks nor reveals it; a key's own reuse is 409 and billed once", async () => {
    const a = await tenant('tenant a');
    const b = await tenant('tenant b');
    const id = `order-${a.id}`;

    const first = await chat(a.key, id);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-request-id')).toBe(id);
    await first.text();
    // Old: 409 duplicate_request_id, so B learned that someone had used the id, and could not use it.
    const other = await chat(b.key, id, true);
    expect(other.status).toBe(200);
    await other.text();

    for (const key of [a.key, b.key]) {
      expect(await errorOf(await chat(key, id))).toMatchObject({ status: 409, code: 'duplicate_request_id', param: 'x-request-id' });
    }
    expect(backend.received).toHaveLength(2);

    const rowA = await finalRow(gateway.admin, gateway.flush, id, a.id);
    const rowB = await finalRow(gateway.admin, gateway.flush, id, b.id);
    expect(rowA).toMatchObject({ keyId: a.id, status: 'ok', stream: false });
    expect(rowB).toMatchObject({ keyId: b.id, status: 'ok', stream: true });
    for (const [tenantKey, row] of [
      [a, rowA],
      [b, rowB],
    ] as [typeof a, LedgerRow][]) {
      expect(await settledBudget(gateway.admin, gateway.flush, tenantKey.id)).toMatchObject({ spent: row.billedCost, reserved: '0' });
    }
  });

  test('an operator asking for an id two keys hold is told to say which key, and names both', async () => {
    const a = await tenant('ambiguous a');
    const b = await tenant('ambiguous b');
    const id = `shared-${a.id}`;
    for (const key of [a.key, b.key]) await (await chat(key, id)).text();
    await finalRow(gateway.admin, gateway.flush, id, a.id);
    await finalRow(gateway.admin, gateway.flush, id, b.id);

    const ambiguous = await errorOf(await gateway.admin('GET', `/admin/requests/${id}`));
    expect(ambiguous).toMatchObject({ status: 409, code: 'ambiguous_request_id', param: 'keyId' });
    expect(ambiguous.message).toContain(a.id);
    expect(ambiguous.message).toContain(b.id);
    const stranger = await gateway.createKey({ name: 'never used it' });
    expect((await gateway.admin('GET', `/admin/requests/${id}?keyId=${stranger.id}`)).status).toBe(404);
  });

  test('an id first used in a refused request stays free for other keys', async () => {
    const a = await tenant('refused a');
    const b = await tenant('refused b');
    const id = `refused-${a.id}`;
    const refused = await gateway.call(
      a.key,
      '/v1/chat/completions',
      { model: 'gpt-4', messages: [{ role: 'user', content: 'lorem '.repeat(9000) }], max_tokens: 3 },
      { 'x-request-id': id, 'x-tollgate-context-policy': 'reject' },
    );
    expect(refused.status).toBe(400);
    expect(await finalRow(gateway.admin, gateway.flush, id, a.id)).toMatchObject({ status: 'rejected' });
    const response = await chat(b.key, id);
    expect(response.status).toBe(200);
    await response.text();
    expect(await finalRow(gateway.admin, gateway.flush, id, b.id)).toMatchObject({ status: 'ok' });
  });
});
