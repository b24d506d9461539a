import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { costOf, formatUsd, parseUsd } from '../../../src/pricing';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { startTestGateway, type TestGateway, testConfig } from '../../support/gateway';
import { databases } from '../support/databases';

describe.each(databases)('a price change mid-run on $name', (database) => {
  let backend: FakeVllm;
  let gateway: TestGateway;
  beforeAll(async () => {
    backend = await startFakeVllm({ completionTokens: 7 });
    gateway = await startTestGateway({ store: await database.open(), config: testConfig(backend.url) });
  });
  afterAll(async () => {
    await gateway?.stop();
    await gateway?.store.close();
    await backend?.close();
  });

  test('earlier requests keep the old price, later ones get the new, and the rows say which', async () => {
    const { key } = await gateway.createKey();
    const send = async (id: string) => {
      const response = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': id },
        body: JSON.stringify({ model: 'gpt-4', messages: [{ role: 'user', content: 'price me' }], max_tokens: 7 }),
      });
      expect(response.status).toBe(200);
      return ((await response.json()) as { usage: { prompt_tokens: number; completion_tokens: number; cost: string } }).usage;
    };
    const before = await Promise.all(['p-1', 'p-2', 'p-3'].map(send));
    const put = await gateway.admin('PUT', '/admin/models/gpt-4/price', { prompt: '0.5', completion: '1.25' });
    expect(put.status).toBe(201);
    const newPrice = (await put.json()) as { id: number };
    const after = await Promise.all(['p-4', 'p-5', 'p-6'].map(send));
    await gateway.ledger.flush(10_000);

    const oldPer1k = { promptPer1k: parseUsd('0.03'), completionPer1k: parseUsd('0.06') };
    const newPer1k = { promptPer1k: parseUsd('0.5'), completionPer1k: parseUsd('1.25') };
    for (const [usage, price] of [...before.map((u) => [u, oldPer1k] as const), ...after.map((u) => [u, newPer1k] as const)]) {
      expect(usage.cost).toBe(
        formatUsd(costOf(price, { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens }).total),
      );
    }
    const rows = await Promise.all(
      ['p-1', 'p-2', 'p-3', 'p-4', 'p-5', 'p-6'].map(
        async (id) =>
          (await (await gateway.admin('GET', `/admin/requests/${id}`)).json()) as {
            billedCost: string;
            price: { id: number; promptPer1k: string };
          },
      ),
    );
    expect(rows.slice(0, 3).every((row) => row.price.id !== newPrice.id && row.price.promptPer1k === '0.03')).toBe(true);
    expect(rows.slice(3).every((row) => row.price.id === newPrice.id && row.price.promptPer1k === '0.5')).toBe(true);
    expect(rows.map((row) => row.billedCost)).toEqual([...before, ...after].map((usage) => usage.cost));

    const versions = (await (await gateway.admin('GET', '/admin/models/gpt-4/prices')).json()) as { data: { prompt: string }[] };
    expect(versions.data.map((v) => v.prompt)).toEqual(['0.03', '0.5']);
  });

  test('a price must be a decimal string', async () => {
    const response = await gateway.admin('PUT', '/admin/models/gpt-4/price', { prompt: 0.5, completion: '1' });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { param: string } }).error.param).toBe('prompt');
  });
});
