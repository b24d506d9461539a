import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { parseUsd } from '../../../src/pricing';
import { type Behavior, type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { startTestGateway, type TestGateway, testConfig } from '../../support/gateway';
import { databases } from '../support/databases';
import { costAtRowPrice, finalRow, setBudget, settledBudget } from './ledger-view';
import { readStream, receivedTokens } from './stream-client';

// Finding 2: with continuous_usage_stats and n > 1, vLLM's per-chunk usage counts one choice; the
// old gateway billed the last usage it saw (50 completion tokens for the 400 an n=8 client got).
// Finding 3: current vLLM streams reasoning in `delta.reasoning`; the old gateway counted only
// content (and `reasoning_content`), so a stream cut before its usage chunk billed 0 for it.

describe.each(databases)('what a stream relayed is billed, on $name', (database) => {
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
  async function budgetedKey(name: string) {
    const created = await gateway.createKey({ name });
    await setBudget(gateway.admin, created.id, '10');
    return created;
  }
  const chat = (key: string, requestId: string, body: Record<string, unknown>, signal?: AbortSignal) =>
    fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': requestId },
      body: JSON.stringify({ model: 'gpt-4', messages: [{ role: 'user', content: 'Think, then answer.' }], ...body }),
      signal,
    });

  /** The row is billed what the client received at least, at its own price, and the budget holds exactly the row. */
  async function expectBilledAtLeast(id: string, requestId: string, received: number) {
    const row = await finalRow(gateway.admin, flush, requestId, id);
    expect(row.completionTokens).toBeGreaterThanOrEqual(received);
    expect(row.completionTokens).toBeLessThanOrEqual(backend.received[0]!.generatedTokens);
    expect(parseUsd(row.billedCost)).toBe(costAtRowPrice(row));
    expect(await settledBudget(gateway.admin, flush, id)).toMatchObject({ spent: row.billedCost, reserved: '0' });
    return row;
  }

  describe('finding 2: n = 8 with continuous_usage_stats', () => {
    const body = {
      n: 8,
      max_tokens: 50,
      stream: true,
      stream_options: { include_usage: true, continuous_usage_stats: true },
    };

    test('a client that leaves after the last finish_reason is billed the 40 tokens it received, not one choice’s 5', async () => {
      const { id, key } = await budgetedKey('continuous, leaves');
      // 40 ms between events: the client is long gone before the final usage chunk would be sent.
      backend.behave({ completionTokens: 5, chunkDelayMs: 40 });
      const controller = new AbortController();
      const requestId = `continuous-leave-${id}`;
      const read = await readStream(await chat(key, requestId, { ...body, max_tokens: 5 }, controller.signal), {
        controller,
        leaveWhen: (r) => r.finished === 8,
      });
      expect(receivedTokens(read)).toBe(8 * 5);
      // What the old gateway billed: the last usage it saw, one choice's running count.
      expect(read.chunks.at(-1)!.usage.completion_tokens).toBe(5);
      // Billed what it received: by the gateway's own count when it saw the client go first (the usual
      // case), by the final usage chunk when that reached it first (a loaded machine); 40 either way.
      const row = await expectBilledAtLeast(id, requestId, 8 * 5);
      expect(row.completionTokens).toBe(8 * 5);
    });

    test('a client that reads to the end gets the final usage: all 400 tokens, and that is what is billed', async () => {
      const { id, key } = await budgetedKey('continuous, stays');
      backend.behave({ completionTokens: 50 });
      const requestId = `continuous-end-${id}`;
      const read = await readStream(await chat(key, requestId, body));
      expect(read.usage).toMatchObject({ completion_tokens: 400 });
      const row = await expectBilledAtLeast(id, requestId, 8 * 50);
      expect(row).toMatchObject({ completionTokens: 400, usageSource: 'upstream', usageNote: null });
      expect(read.usage!.cost).toBe(row.billedCost);
    });

    test('a backend that sends only per-chunk usage: the gateway counts the 400 itself and tells the client', async () => {
      const { id, key } = await budgetedKey('continuous, no final usage');
      backend.behave({ completionTokens: 50, perChunkUsageOnly: true });
      const requestId = `continuous-only-${id}`;
      const read = await readStream(await chat(key, requestId, body));
      expect(read.usage).toMatchObject({ completion_tokens: 400 });
      const row = await expectBilledAtLeast(id, requestId, 8 * 50);
      expect(row).toMatchObject({ completionTokens: 400, usageSource: 'gateway', usageNote: 'no_usage' });
    });
  });

  describe('finding 3: every generated field counts when the usage chunk never comes', () => {
    const reasoning: Partial<Behavior> = { reasoningTokens: 30, completionTokens: 5, chunkDelayMs: 2 };
    const toolCall: Partial<Behavior> = {
      completionTokens: 5,
      chunkDelayMs: 1,
      toolCalls: [{ arguments: JSON.stringify({ city: 'Paris', days: 5, units: 'metric', note: 'pack an umbrella '.repeat(8) }) }],
    };
    const tools = [
      { type: 'function', function: { name: 'forecast', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
    ];
    // Events: one role chunk, then one per generated piece; the cut comes after `afterChunks` events.
    test.each([
      ['delta.reasoning', { ...reasoning, reasoningField: 'reasoning' }, {}, 1 + 30 + 2],
      ['delta.reasoning_content', { ...reasoning, reasoningField: 'reasoning_content' }, {}, 1 + 30 + 2],
      ['tool call arguments', toolCall, { tools }, 12],
    ] as const)('%s: a stream the backend breaks off is billed what it relayed', async (_name, behavior, extra, afterChunks) => {
      const { id, key } = await budgetedKey('broken off');
      backend.behave({ ...behavior, fail: { kind: 'disconnect', afterChunks } });
      const requestId = `cut-${id}`;
      const read = await readStream(
        await chat(key, requestId, { max_tokens: 200, stream: true, stream_options: { include_usage: true }, ...extra }),
      );
      expect(read.error).toMatchObject({ code: 'upstream_stream_broken' });
      expect(read.usage).toBeNull();
      const received = receivedTokens(read);
      expect(received).toBeGreaterThan(0);
      expect(received).toBe(backend.received[0]!.sentTokens);
      const row = await expectBilledAtLeast(id, requestId, received);
      expect(row).toMatchObject({ status: 'upstream_error', usageSource: 'gateway', usageNote: 'no_usage' });
    });

    test.each([
      ['delta.reasoning', 'reasoning'],
      ['delta.reasoning_content', 'reasoning_content'],
    ] as const)('%s: a client that leaves mid-reasoning is billed what it received', async (_name, reasoningField) => {
      const { id, key } = await budgetedKey('leaves mid-reasoning');
      backend.behave({ ...reasoning, reasoningField });
      const controller = new AbortController();
      const requestId = `leave-${id}`;
      const read = await readStream(await chat(key, requestId, { max_tokens: 200, stream: true }, controller.signal), {
        controller,
        leaveWhen: (r) => receivedTokens(r) >= 20,
      });
      const row = await expectBilledAtLeast(id, requestId, receivedTokens(read));
      expect(row).toMatchObject({ status: 'client_disconnected', usageSource: 'gateway' });
    });

    test('a whole answer without usage is billed its reasoning as well as its content', async () => {
      const { id, key } = await budgetedKey('json reasoning');
      backend.behave({ ...reasoning, omitUsage: true });
      const requestId = `json-${id}`;
      const response = await chat(key, requestId, { max_tokens: 200 });
      const answer = (await response.json()) as { choices: { message: { content: string; reasoning: string } }[]; usage: any };
      expect(answer.choices[0]!.message.reasoning.length).toBeGreaterThan(0);
      expect(answer.usage.completion_tokens).toBe(35);
      const row = await expectBilledAtLeast(id, requestId, 35);
      expect(row).toMatchObject({ completionTokens: 35, usageSource: 'gateway', usageNote: 'no_usage' });
    });
  });
});
