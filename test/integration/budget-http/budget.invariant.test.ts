import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { formatUsd, parseUsd } from '../../../src/pricing';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { startTestGateway, type TestGateway, testConfig } from '../../support/gateway';
import { databases } from '../support/databases';

const COMPLETION = 5;
const body = (i = 0) => ({ model: 'gpt-4', messages: [{ role: 'user', content: `budget test ${i % 1}` }], max_tokens: COMPLETION });

describe.each(databases)('budgets on $name', (database) => {
  let backend: FakeVllm;
  let gateway: TestGateway;
  let clock = new Date('2026-06-15T12:00:00Z');

  beforeAll(async () => {
    backend = await startFakeVllm({ completionTokens: COMPLETION });
    gateway = await startTestGateway({ store: await database.open(), config: testConfig(backend.url), now: () => clock });
  });
  afterAll(async () => {
    await gateway?.stop();
    await gateway?.store.close();
    await backend?.close();
  });

  const send = (key: string, payload: unknown = body(), headers: Record<string, string> = {}) =>
    fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(payload),
    });

  /** The exact cost of one `body()` request, asked of /v1/estimate. */
  async function costOfOne(key: string): Promise<bigint> {
    const response = await fetch(`${gateway.url}/v1/estimate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
      body: JSON.stringify(body()),
    });
    return parseUsd(((await response.json()) as { cost: { total: string } }).cost.total);
  }

  async function keyWithBudget(requests: number, extra: Record<string, unknown> = {}) {
    const { id, key } = await gateway.createKey({ name: `budget-${requests}` });
    const limit = (await costOfOne(key)) * BigInt(requests);
    const put = await gateway.admin('PUT', `/admin/keys/${id}/budget`, { limit: formatUsd(limit), period: 'month', ...extra });
    expect(put.status).toBe(200);
    return { id, key, limit };
  }

  const budgetOf = async (id: string) =>
    (await (await gateway.admin('GET', `/admin/keys/${id}/budget`)).json()) as {
      limit: string;
      spent: string;
      reserved: string;
      remaining: string;
    };

  test('200 concurrent requests on a budget that pays for exactly 20: 20 succeed, 180 get insufficient_quota', async () => {
    const { id, key, limit } = await keyWithBudget(20);
    const statuses = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const response = await send(key);
        const json = (await response.json()) as { error?: { code: string } };
        return response.status === 200 ? 'ok' : `${response.status} ${json.error?.code}`;
      }),
    );
    expect(statuses.filter((s) => s === 'ok')).toHaveLength(20);
    expect(statuses.filter((s) => s === '429 insufficient_quota')).toHaveLength(180);
    await gateway.ledger.flush(10_000);
    const budget = await budgetOf(id);
    expect(parseUsd(budget.spent)).toBe(limit);
    expect(budget.reserved).toBe('0');
    expect(budget.remaining).toBe('0');
  });

  test('counting down: a budget for 5 requests admits exactly 5, remaining reaches exactly zero, then refuses', async () => {
    const { id, key, limit } = await keyWithBudget(5);
    const one = await costOfOne(key);
    for (let i = 1; i <= 5; i++) {
      const response = await send(key);
      expect(response.status).toBe(200);
      expect(response.headers.get('x-tollgate-budget-remaining')).toBe(formatUsd(limit - one * BigInt(i)));
      await response.text();
    }
    const refused = await send(key);
    expect(refused.status).toBe(429);
    const error = ((await refused.json()) as { error: { code: string; type: string; message: string } }).error;
    expect(error).toMatchObject({ code: 'insufficient_quota', type: 'insufficient_quota' });
    expect(error.message).toContain(`$${formatUsd(one)}`);
    await gateway.ledger.flush(10_000);
    expect((await budgetOf(id)).remaining).toBe('0');
  });

  test('/v1/estimate reports the remaining budget and whether the request would be admitted', async () => {
    const { key } = await keyWithBudget(1);
    const estimate = async () =>
      (await (
        await fetch(`${gateway.url}/v1/estimate`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}` },
          body: JSON.stringify(body()),
        })
      ).json()) as { budgetRemaining: string; admitted: boolean };
    expect(await estimate()).toMatchObject({ admitted: true });
    expect((await send(key)).status).toBe(200);
    await gateway.ledger.flush(10_000);
    expect(await estimate()).toMatchObject({ admitted: false, budgetRemaining: '0' });
  });

  test('a backend failure releases the whole reservation', async () => {
    const { id, key } = await keyWithBudget(3);
    backend.behave({ fail: { status: 500 } });
    try {
      expect((await send(key)).status).toBe(500);
    } finally {
      backend.reset();
      backend.behave({ completionTokens: COMPLETION });
    }
    await gateway.ledger.flush(10_000);
    expect(await budgetOf(id)).toMatchObject({ spent: '0', reserved: '0' });
  });

  test('an aborted stream is billed for what was generated and its reservation released', async () => {
    const { id, key } = await keyWithBudget(50);
    backend.behave({ completionTokens: 200, chunkDelayMs: 5 });
    try {
      const client = new OpenAI({ apiKey: key, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
      const stream = await client.chat.completions.create({
        ...body(),
        max_tokens: 200,
        stream: true,
      } as OpenAI.ChatCompletionCreateParamsStreaming);
      let received = 0;
      for await (const chunk of stream) if (chunk.choices[0]?.delta.content && ++received === 3) break;
    } finally {
      backend.reset();
      backend.behave({ completionTokens: COMPLETION });
    }
    for (let tries = 0; tries < 50 && (await budgetOf(id)).reserved !== '0'; tries++) {
      await new Promise((r) => setTimeout(r, 50));
      await gateway.ledger.flush(5_000);
    }
    const budget = await budgetOf(id);
    expect(budget.reserved).toBe('0');
    expect(parseUsd(budget.spent)).toBeGreaterThan(0n);
  });

  test('period rollover follows the budget time zone, DST included, and not before', async () => {
    // New York's day of the spring-forward change (2026-03-08) is 23 hours: 05:00Z to 04:00Z.
    clock = new Date('2026-03-08T05:00:00Z');
    const { id, key } = await gateway.createKey({ name: 'daily' });
    const one = await costOfOne(key);
    await gateway.admin('PUT', `/admin/keys/${id}/budget`, { limit: formatUsd(one), period: 'day', timezone: 'America/New_York' });
    expect((await send(key)).status).toBe(200);
    clock = new Date('2026-03-09T03:59:59Z');
    expect((await send(key)).status).toBe(429);
    clock = new Date('2026-03-09T04:00:00Z');
    expect((await send(key)).status).toBe(200);
    const budget = (await (await gateway.admin('GET', `/admin/keys/${id}/budget`)).json()) as { periodStart: string; periodEnd: string };
    expect(budget).toMatchObject({ periodStart: '2026-03-09T04:00:00.000Z', periodEnd: '2026-03-10T04:00:00.000Z' });
    clock = new Date('2026-06-15T12:00:00Z');
  });

  test("changing a budget mid-period keeps that period's spend", async () => {
    const { id, key, limit } = await keyWithBudget(2);
    expect((await send(key)).status).toBe(200);
    await gateway.ledger.flush(10_000);
    const spent = (await budgetOf(id)).spent;
    await gateway.admin('PUT', `/admin/keys/${id}/budget`, { limit: formatUsd(limit * 2n), period: 'month' });
    expect((await budgetOf(id)).spent).toBe(spent);
  });
});
