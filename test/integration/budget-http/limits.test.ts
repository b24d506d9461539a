import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { formatUsd, parseUsd } from '../../../src/pricing';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { awayFromMinuteEdge } from '../../support/clock';
import { startTestGateway, type TestGateway, testConfig } from '../../support/gateway';
import { databases } from '../support/databases';

describe.each(databases)('limits and alerts on $name', (database) => {
  let backend: FakeVllm;
  let gateway: TestGateway;
  const webhook: unknown[] = [];
  let webhookServer: ReturnType<typeof createServer>;

  beforeAll(async () => {
    webhookServer = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        webhook.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => webhookServer.listen(0, '127.0.0.1', resolve));
    backend = await startFakeVllm({ completionTokens: 5 });
    const hook = `http://127.0.0.1:${(webhookServer.address() as AddressInfo).port}/alerts`;
    gateway = await startTestGateway({
      store: await database.open(),
      config: testConfig(backend.url, (input) => (input.gateway = { alertWebhookUrl: hook, budgetDefaultMaxTokens: 300 })),
    });
  });
  afterAll(async () => {
    await gateway?.stop();
    await gateway?.store.close();
    await backend?.close();
    webhookServer?.close();
  });

  const chat = (key: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
    fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model: 'gpt-4', messages: [{ role: 'user', content: 'limits' }], max_tokens: 5, ...extra }),
    });
  const estimateCost = async (key: string, maxTokens: number) =>
    parseUsd(
      (
        (await (
          await fetch(`${gateway.url}/v1/estimate`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}` },
            body: JSON.stringify({ model: 'gpt-4', messages: [{ role: 'user', content: 'limits' }], max_tokens: maxTokens }),
          })
        ).json()) as { cost: { total: string } }
      ).cost.total,
    );

  test('requests per minute: exactly rpm are admitted, the rest get rate_limit_exceeded with retry-after', async () => {
    await awayFromMinuteEdge();
    const { key } = await gateway.createKey({ name: 'rpm', options: { rpm: 5 } });
    const responses = await Promise.all(Array.from({ length: 12 }, () => chat(key)));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(5);
    const limited = responses.filter((r) => r.status === 429);
    expect(limited).toHaveLength(7);
    const retryAfter = Number(limited[0]!.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(((await limited[0]!.json()) as { error: { code: string } }).error.code).toBe('rate_limit_exceeded');
  });

  test('tokens per minute count the worst case of each request', async () => {
    await awayFromMinuteEdge();
    const { key } = await gateway.createKey({ name: 'tpm', options: { tpm: 100 } });
    // Each request reserves its prompt plus max_tokens 40: two fit in 100 tokens, the third does not.
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await chat(key, { max_tokens: 40 })).status);
    expect(statuses).toEqual([200, 200, 429]);
  });

  test('shrinkMaxTokens lowers max_tokens to what the budget pays for, and says so', async () => {
    const { id, key } = await gateway.createKey({ name: 'shrink', options: { shrinkMaxTokens: true, minMaxTokens: 4 } });
    await gateway.admin('PUT', `/admin/keys/${id}/budget`, { limit: formatUsd(await estimateCost(key, 12)), period: 'month' });
    backend.reset();
    backend.behave({ completionTokens: 5 });
    const response = await chat(key, { max_tokens: 100 });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-tollgate-max-tokens-adjusted')).toBe('12');
    expect(backend.received.at(-1)!.body.max_tokens).toBe(12);
  });

  test('without shrinkMaxTokens the same request is refused, naming the remaining budget and the worst case', async () => {
    const { id, key } = await gateway.createKey({ name: 'no-shrink' });
    const limit = await estimateCost(key, 12);
    await gateway.admin('PUT', `/admin/keys/${id}/budget`, { limit: formatUsd(limit), period: 'month' });
    const response = await chat(key, { max_tokens: 100 });
    expect(response.status).toBe(429);
    const { error } = (await response.json()) as { error: { message: string } };
    expect(error.message).toContain(`$${formatUsd(limit)} left`);
    expect(error.message).toContain(`$${formatUsd(await estimateCost(key, 100))}`);
  });

  test('a budgeted key without max_tokens reserves the default cap, not the whole window', async () => {
    const { id, key } = await gateway.createKey({ name: 'capped' });
    await gateway.admin('PUT', `/admin/keys/${id}/budget`, { limit: '100', period: 'month' });
    backend.reset();
    const response = await chat(key, { max_tokens: undefined });
    expect(response.status).toBe(200);
    expect(backend.received.at(-1)!.body.max_tokens).toBe(300);
    const unbudgeted = await gateway.createKey({ name: 'free' });
    const free = await chat(unbudgeted.key, { max_tokens: undefined });
    expect(Number(free.headers.get('x-tollgate-prompt-tokens')) + backend.received.at(-1)!.body.max_tokens).toBe(8192);
  });

  test('crossing the soft threshold and the limit records one alert each per period and posts the webhook', async () => {
    const { id, key } = await gateway.createKey({ name: 'alerted' });
    const one = await estimateCost(key, 5);
    await gateway.admin('PUT', `/admin/keys/${id}/budget`, { limit: formatUsd(one * 4n), period: 'month', softThresholdPct: 50 });
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await chat(key)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    for (let tries = 0; tries < 100 && webhook.filter((w) => (w as { alert: { keyId: string } }).alert.keyId === id).length < 2; tries++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const alerts = (await (await gateway.admin('GET', `/admin/alerts?keyId=${id}`)).json()) as {
      data: { kind: string; deliveredAt: string | null }[];
    };
    expect(alerts.data.map((a) => a.kind).sort()).toEqual(['limit', 'soft']);
    const posted = webhook.filter((w) => (w as { alert: { keyId: string } }).alert.keyId === id) as { type: string }[];
    expect(posted.map((p) => p.type).sort()).toEqual(['budget.limit', 'budget.soft']);
  });

  test('a reused x-request-id is refused with 409 and billed once', async () => {
    const { key } = await gateway.createKey({ name: 'dupe' });
    const first = await chat(key, {}, { 'x-request-id': 'same-id-twice' });
    expect(first.status).toBe(200);
    const second = await chat(key, {}, { 'x-request-id': 'same-id-twice' });
    expect(second.status).toBe(409);
    expect(((await second.json()) as { error: { code: string } }).error.code).toBe('duplicate_request_id');
    await gateway.ledger.flush(5_000);
    const row = (await (await gateway.admin('GET', '/admin/requests/same-id-twice')).json()) as { status: string };
    expect(row.status).toBe('ok');
  });
});

describe.each(databases)('fail closed on $name', (database) => {
  test('when the ledger cannot be reached, requests get 503 and nothing reaches the backend', async () => {
    const backend = await startFakeVllm();
    const store = await database.open();
    const gateway = await startTestGateway({ store, config: testConfig(backend.url) });
    try {
      const { key } = await gateway.createKey({ name: 'closed' });
      const send = () =>
        fetch(`${gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}` },
          body: JSON.stringify({ model: 'gpt-4', messages: [{ role: 'user', content: 'x' }], max_tokens: 2 }),
        });
      expect((await send()).status).toBe(200);
      await gateway.ledger.flush(5_000);
      await store.close();
      backend.reset();
      const response = await send();
      expect(response.status).toBe(503);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('ledger_unavailable');
      expect(backend.received).toHaveLength(0);
    } finally {
      await gateway.stop().catch(() => {});
      await backend.close();
    }
  });
});
