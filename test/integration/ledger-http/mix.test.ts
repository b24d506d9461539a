import { sql } from 'drizzle-orm';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseUsd } from '../../../src/pricing';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { startTestGateway, type TestGateway, testConfig } from '../../support/gateway';
import { databases } from '../support/databases';

/** Runs `count` jobs, `width` at a time. */
async function inParallel(count: number, width: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await job(next++);
    }),
  );
}

describe.each(databases)('the ledger under a mix of 1,000 requests on $name', (database) => {
  let healthy: FakeVllm;
  let failing: FakeVllm;
  let gateway: TestGateway;
  let client: OpenAI;

  beforeAll(async () => {
    healthy = await startFakeVllm({ completionTokens: 6, chunkDelayMs: 1 });
    failing = await startFakeVllm({
      fail: { status: 500, body: { object: 'error', message: 'CUDA out of memory', type: 'InternalServerError', param: null, code: 500 } },
    });
    const config = testConfig(healthy.url, (input) => {
      input.backends.sick = { url: failing.url };
      input.models.sick = { backend: 'sick', contextWindow: 4096, pricePer1k: { prompt: '0.000123', completion: '0.000456' } };
    });
    gateway = await startTestGateway({ store: await database.open(), config });
    client = new OpenAI({ apiKey: (await gateway.createKey({ name: 'mix' })).key, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await gateway?.stop();
    await gateway?.store.close();
    await healthy?.close();
    await failing?.close();
  });

  test('every request id has exactly one final row, and the money adds up to the unit', async () => {
    const seen = new Map<string, { kind: string; cost: bigint | null }>();
    const messages = (i: number) => [{ role: 'user' as const, content: `request number ${i}: tell me something` }];
    const kinds = ['json', 'stream', 'backend_error', 'disconnect', 'context'] as const;

    await inParallel(1000, 24, async (i) => {
      const kind = kinds[i % kinds.length]!;
      const requestId = `mix-${i}`;
      const headers = { 'x-request-id': requestId, 'x-tollgate-context-policy': 'reject' };
      if (kind === 'json') {
        const completion = await client.chat.completions.create(
          { model: 'gpt-4', messages: messages(i), max_tokens: 4 + (i % 5) },
          { headers },
        );
        seen.set(requestId, { kind, cost: parseUsd((completion.usage as unknown as { cost: string }).cost) });
      } else if (kind === 'stream') {
        const stream = await client.chat.completions.create(
          { model: 'gpt-4', messages: messages(i), stream: true, stream_options: { include_usage: true } },
          { headers },
        );
        let cost: bigint | null = null;
        for await (const chunk of stream) if (chunk.usage) cost = parseUsd((chunk.usage as unknown as { cost: string }).cost);
        seen.set(requestId, { kind, cost });
      } else if (kind === 'backend_error') {
        await expect(client.chat.completions.create({ model: 'sick', messages: messages(i) }, { headers })).rejects.toMatchObject({
          status: 500,
        });
        seen.set(requestId, { kind, cost: null });
      } else if (kind === 'disconnect') {
        const stream = await client.chat.completions.create({ model: 'gpt-4', messages: messages(i), stream: true }, { headers });
        // Leaving the loop aborts the HTTP request: the client hangs up after the first token.
        for await (const chunk of stream) if (chunk.choices[0]?.delta.content) break;
        seen.set(requestId, { kind, cost: null });
      } else {
        await expect(
          client.chat.completions.create(
            { model: 'gpt-4', messages: [{ role: 'user', content: 'x '.repeat(9000) }], max_tokens: 10 },
            { headers },
          ),
        ).rejects.toMatchObject({ status: 400, code: 'context_length_exceeded' });
        seen.set(requestId, { kind, cost: null });
      }
    });

    await gateway.ledger.flush(30_000);
    // A disconnect settles when the gateway notices; give the last ones a moment to queue.
    for (let tries = 0; tries < 100; tries++) {
      const [{ pending }] = (await gateway.store.rows<{ pending: number }>(
        sql`SELECT count(*)::int AS pending FROM usage_events WHERE status = 'pending'`,
      )) as [{ pending: number }];
      if (pending === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
      await gateway.ledger.flush(5_000);
    }

    const rows = await gateway.store.rows<{
      request_id: string;
      status: string;
      billed_cost: string;
      prompt_tokens: number;
      completion_tokens: number;
      prompt_per_1k: string;
      completion_per_1k: string;
    }>(sql`
      SELECT e.request_id, e.status, e.billed_cost::text, e.prompt_tokens, e.completion_tokens, p.prompt_per_1k::text, p.completion_per_1k::text
      FROM usage_events e LEFT JOIN prices p ON p.id = e.price_id`);
    expect(rows).toHaveLength(1000);
    const byId = new Map(rows.map((row) => [row.request_id, row]));
    expect(byId.size).toBe(1000);

    const expectedStatus = {
      json: 'ok',
      stream: 'ok',
      backend_error: 'upstream_error',
      disconnect: 'client_disconnected',
      context: 'rejected',
    };
    let clientTotal = 0n;
    let disconnectTotal = 0n;
    for (const [requestId, { kind, cost }] of seen) {
      const row = byId.get(requestId)!;
      expect(row.status, requestId).toBe(expectedStatus[kind as keyof typeof expectedStatus]);
      const billed = BigInt(row.billed_cost);
      if (cost !== null) {
        expect(billed, requestId).toBe(cost);
        clientTotal += cost;
      } else if (kind === 'disconnect') {
        // Billed for what was generated before the client left, at the row's own price.
        const expected =
          (BigInt(row.prompt_tokens) * BigInt(row.prompt_per_1k) + BigInt(row.completion_tokens) * BigInt(row.completion_per_1k)) / 1000n;
        expect(billed, requestId).toBe(expected);
        expect(Number(row.completion_tokens)).toBeLessThanOrEqual(6);
        disconnectTotal += billed;
      } else {
        expect(billed, requestId).toBe(0n);
      }
    }
    const [{ ledger }] = (await gateway.store.rows<{ ledger: string }>(
      sql`SELECT coalesce(sum(billed_cost), 0)::text AS ledger FROM usage_events`,
    )) as [{ ledger: string }];
    const [{ daily, requests }] = (await gateway.store.rows<{ daily: string; requests: string }>(
      sql`SELECT coalesce(sum(cost), 0)::text AS daily, coalesce(sum(requests), 0)::text AS requests FROM usage_daily`,
    )) as [{ daily: string; requests: string }];
    expect(BigInt(ledger)).toBe(clientTotal + disconnectTotal);
    expect(BigInt(daily)).toBe(BigInt(ledger));
    expect(Number(requests)).toBe(1000);
  });
});
