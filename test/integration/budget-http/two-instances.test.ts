import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { defaultConfigInput } from '../../../src/config';
import { formatUsd, parseUsd } from '../../../src/pricing';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { awayFromMinuteEdge } from '../../support/clock';
import { ADMIN_TOKEN, type GatewayProcess, startGatewayProcess } from '../../support/gateway';
import { createPostgresDatabase, postgresAvailable } from '../support/databases';

// Two gateway processes on one Postgres: all budget and rate state lives in the database.
describe.runIf(postgresAvailable)('two gateway instances sharing one Postgres', () => {
  let backend: FakeVllm;
  let database: { url: string; drop(): Promise<void> };
  let gateways: GatewayProcess[];

  beforeAll(async () => {
    backend = await startFakeVllm({ completionTokens: 5 });
    database = await createPostgresDatabase();
    const env = { DATABASE_URL: database.url };
    const config = defaultConfigInput(backend.url);
    gateways = [await startGatewayProcess({ env, config }), await startGatewayProcess({ env, config })];
  });
  afterAll(async () => {
    await Promise.all((gateways ?? []).map((g) => g.stop()));
    await database?.drop();
    await backend?.close();
  });

  const admin = (method: string, path: string, body?: unknown) =>
    fetch(`${gateways[0]!.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const payload = JSON.stringify({ model: 'gpt-4', messages: [{ role: 'user', content: 'two instances' }], max_tokens: 5 });
  const chat = (i: number, key: string) =>
    fetch(`${gateways[i % 2]!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: payload,
    });

  async function newKey(body: Record<string, unknown>) {
    return (await (await admin('POST', '/admin/keys', { name: 'shared', ...body })).json()) as { id: string; key: string };
  }

  test('200 concurrent requests across both on a budget for exactly 20: 20 succeed, and spend equals the limit', async () => {
    const { id, key } = await newKey({});
    const estimate = await fetch(`${gateways[1]!.url}/v1/estimate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
      body: payload,
    });
    const one = parseUsd(((await estimate.json()) as { cost: { total: string } }).cost.total);
    await admin('PUT', `/admin/keys/${id}/budget`, { limit: formatUsd(one * 20n), period: 'month' });
    const statuses = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const response = await chat(i, key);
        await response.text();
        return response.status;
      }),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(180);
    let budget = { spent: '', reserved: '', remaining: '' };
    for (let tries = 0; tries < 50; tries++) {
      budget = (await (await admin('GET', `/admin/keys/${id}/budget`)).json()) as typeof budget;
      if (budget.reserved === '0') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(budget).toMatchObject({ spent: formatUsd(one * 20n), reserved: '0', remaining: '0' });
  });

  test('a rate limit holds across both instances', async () => {
    await awayFromMinuteEdge();
    const { key } = await newKey({ options: { rpm: 10 } });
    const statuses = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const response = await chat(i, key);
        await response.text();
        return response.status;
      }),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(30);
  });
});
