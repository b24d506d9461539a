import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { parseUsd } from '../../../src/pricing';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { startTestGateway, type TestGateway, testConfig } from '../../support/gateway';
import { databases } from '../support/databases';
import { costAtRowPrice, finalRow, setBudget, settledBudget } from './ledger-view';

// Finding 6: the old gateway believed the backend's usage whatever it said. 0/0 for 100 relayed
// tokens billed $0; completion_tokens 5000 for max_tokens 10 billed 5,000 and pushed the key over
// its limit; 3e9 overflowed an int4 column, the settle was dropped, the sweeper later billed only
// the prompt, and the client had been told $180,000. Now the usage is billed only when it is at
// least what was relayed and within the caps, else the gateway's own count, and the row says why.

const RELAYED = 10;

/** [what the backend reports, where the bill comes from, why, completion tokens billed] */
const lies: [string, Record<string, unknown> | undefined, string, string | null, number][] = [
  ['the truth', undefined, 'upstream', null, RELAYED],
  ['0/0 for 10 relayed tokens', { prompt_tokens: 0, completion_tokens: 0 }, 'gateway', 'completion_below_relayed', RELAYED],
  ['fewer completion tokens than were relayed', { completion_tokens: 2 }, 'gateway', 'completion_below_relayed', RELAYED],
  ['5,000 completion tokens for max_tokens 10', { completion_tokens: 5000 }, 'gateway', 'completion_above_cap', RELAYED],
  ['3e9 completion tokens', { completion_tokens: 3e9 }, 'gateway', 'completion_above_cap', RELAYED],
  ['a billion prompt tokens', { prompt_tokens: 1e9 }, 'gateway', 'prompt_above_cap', RELAYED],
  ['no prompt at all', { prompt_tokens: 0 }, 'gateway', 'prompt_missing', RELAYED],
  ['counts as strings', { prompt_tokens: '12', completion_tokens: '10' }, 'gateway', 'no_usage', RELAYED],
  ['a negative count', { completion_tokens: -1 }, 'gateway', 'no_usage', RELAYED],
  ['a fractional count', { completion_tokens: 10.5 }, 'gateway', 'no_usage', RELAYED],
  ['null counts', { prompt_tokens: null, completion_tokens: null }, 'gateway', 'no_usage', RELAYED],
];

describe.each(databases)('a backend lying about usage, on $name', (database) => {
  let backend: FakeVllm;
  let gateway: TestGateway;

  beforeAll(async () => {
    backend = await startFakeVllm();
    gateway = await startTestGateway({ store: await database.open(), config: testConfig(backend.url) });
  });
  afterAll(async () => {
    await gateway?.stop();
    await gateway?.store.close();
    await backend?.close();
  });
  beforeEach(() => backend.reset());

  const flush = () => gateway.ledger.flush(10_000);
  const request = { model: 'gpt-4', messages: [{ role: 'user' as const, content: 'Tell me ten words.' }], max_tokens: RELAYED };

  /** A key whose budget pays for exactly one such request's worst case: any bill above it would overspend. */
  async function keyForOne(name: string) {
    const { id, key } = await gateway.createKey({ name });
    const estimate = await fetch(`${gateway.url}/v1/estimate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
      body: JSON.stringify(request),
    });
    const limit = ((await estimate.json()) as { cost: { total: string } }).cost.total;
    await setBudget(gateway.admin, id, limit);
    return { id, client: new OpenAI({ apiKey: key, baseURL: `${gateway.url}/v1`, maxRetries: 0 }), limit: parseUsd(limit) };
  }

  test.each(lies)(
    '%s, not streamed: billed from %s (%s), and the client is told what is billed',
    async (_name, override, source, note, completion) => {
      const { id, client, limit } = await keyForOne('json liar');
      backend.behave({ completionTokens: 50, usageOverride: override });
      const requestId = `json-${id}`;
      const { data, response } = await client.chat.completions.create(request, { headers: { 'x-request-id': requestId } }).withResponse();
      const row = await finalRow(gateway.admin, flush, requestId, id);
      expect(row).toMatchObject({
        status: 'ok',
        usageSource: source,
        usageNote: note,
        completionTokens: completion,
        completionTokensEstimated: RELAYED,
      });
      if (source === 'gateway') expect(row.promptTokens).toBe(row.promptTokensEstimated);
      expect(parseUsd(row.billedCost)).toBe(costAtRowPrice(row));
      expect(parseUsd(row.billedCost)).toBeLessThanOrEqual(parseUsd(row.reservedCost));
      // What the application sees is what the ledger holds.
      expect(data.usage).toMatchObject({ prompt_tokens: row.promptTokens, completion_tokens: row.completionTokens, cost: row.billedCost });
      expect(response.headers.get('x-tollgate-cost')).toBe(row.billedCost);
      const budget = await settledBudget(gateway.admin, flush, id);
      expect(budget.spent).toBe(row.billedCost);
      expect(parseUsd(budget.spent)).toBeLessThanOrEqual(limit);
    },
  );

  test.each(lies)(
    '%s, streamed: billed from %s (%s), and the usage chunk says what is billed',
    async (_name, override, source, note, completion) => {
      const { id, client, limit } = await keyForOne('stream liar');
      backend.behave({ completionTokens: 50, usageOverride: override });
      const requestId = `stream-${id}`;
      const stream = await client.chat.completions.create(
        { ...request, stream: true, stream_options: { include_usage: true } },
        { headers: { 'x-request-id': requestId } },
      );
      let usage: Record<string, unknown> | undefined;
      for await (const chunk of stream) if (chunk.usage) usage = chunk.usage as unknown as Record<string, unknown>;
      const row = await finalRow(gateway.admin, flush, requestId, id);
      expect(row).toMatchObject({ status: 'ok', usageSource: source, usageNote: note, completionTokens: completion });
      expect(usage).toMatchObject({ prompt_tokens: row.promptTokens, completion_tokens: row.completionTokens, cost: row.billedCost });
      const budget = await settledBudget(gateway.admin, flush, id);
      expect(budget.spent).toBe(row.billedCost);
      expect(parseUsd(budget.spent)).toBeLessThanOrEqual(limit);
    },
  );

  test('a stream whose backend never reports usage: the gateway’s count, in a usage chunk the client asked for', async () => {
    const { id, client } = await keyForOne('silent');
    backend.behave({ completionTokens: 50, omitUsage: true });
    const requestId = `silent-${id}`;
    const stream = await client.chat.completions.create(
      { ...request, stream: true, stream_options: { include_usage: true } },
      { headers: { 'x-request-id': requestId } },
    );
    let usage: Record<string, unknown> | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage as unknown as Record<string, unknown>;
    const row = await finalRow(gateway.admin, flush, requestId, id);
    expect(row).toMatchObject({ usageSource: 'gateway', usageNote: 'no_usage', completionTokens: RELAYED });
    expect(usage).toMatchObject({ completion_tokens: RELAYED, cost: row.billedCost });
  });
});
