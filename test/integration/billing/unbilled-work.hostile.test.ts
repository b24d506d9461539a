import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { parseUsd } from '../../../src/pricing';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { startTestGateway, type TestGateway, testConfig } from '../../support/gateway';
import { databases } from '../support/databases';
import { costAtRowPrice, errorOf, finalRow, setBudget, settledBudget } from './ledger-view';
import { readStream, receivedTokens } from './stream-client';

// Finding 9: work done, nothing billed. vLLM sends a non-streamed answer's head only when
// generation ends; the old gateway aborted the backend when the client left before that head and
// billed $0, prompt included. A backend past the gateway's deadline (504) was billed $0 too, and so
// was a stream whose client left once the backend had it, before the head: free prefill, repeatable.

describe.each(databases)('work the backend did is billed, on $name', (database) => {
  let backend: FakeVllm;
  let gateway: TestGateway;

  beforeAll(async () => {
    backend = await startFakeVllm();
    const config = testConfig(backend.url, (input) => {
      // The same backend behind a short deadline, for the timeouts.
      input.backends.hurried = { url: backend.url, timeoutMs: 300 };
      input.models.hurried = { backend: 'hurried', contextWindow: 8192, pricePer1k: { prompt: '0.03', completion: '0.06' } };
    });
    gateway = await startTestGateway({ store: await database.open(), config });
  });
  afterAll(async () => {
    await gateway?.stop();
    await gateway?.store.close();
    await backend?.close();
  });
  beforeEach(() => backend.reset());

  const flush = () => gateway.ledger.flush(10_000);
  const chat = (key: string, requestId: string, body: Record<string, unknown>, signal?: AbortSignal) =>
    fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': requestId },
      body: JSON.stringify({ model: 'gpt-4', messages: [{ role: 'user', content: 'Write thirty words.' }], max_tokens: 100, ...body }),
      signal,
    });
  async function budgetedKey(name: string) {
    const created = await gateway.createKey({ name });
    await setBudget(gateway.admin, created.id, '10');
    return created;
  }
  async function untilBackendHas(count: number) {
    while (backend.received.length < count) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  test('a non-streamed request whose client leaves before the head runs to its end and is billed, prompt and completion', async () => {
    const { id, key } = await budgetedKey('leaves early');
    // 30 tokens at 20 ms: the head comes 600 ms after the request, once generation ends.
    backend.behave({ completionTokens: 30, tokenMs: 20 });
    const controller = new AbortController();
    const requestId = `early-${id}`;
    const sent = chat(key, requestId, {}, controller.signal);
    await untilBackendHas(1);
    controller.abort();
    await expect(sent).rejects.toThrow();

    const row = await finalRow(gateway.admin, flush, requestId, id);
    expect(row).toMatchObject({ status: 'client_disconnected', completionTokens: 30, usageSource: 'upstream' });
    expect(row.promptTokens).toBeGreaterThan(0);
    expect(parseUsd(row.billedCost)).toBe(costAtRowPrice(row));
    expect(parseUsd(row.billedCost)).toBeGreaterThan(0n);
    // The backend was not aborted: it generated everything, and the gateway read it all.
    expect(backend.received[0]).toMatchObject({ aborted: false, completed: true, generatedTokens: 30 });
    expect(await settledBudget(gateway.admin, flush, id)).toMatchObject({ spent: row.billedCost, reserved: '0' });
  });

  test('a stream whose client leaves once the backend has it, before the head: the prompt it may have read is billed', async () => {
    const { id, key } = await budgetedKey('stream leaves early');
    // The head waits 2 s: the client leaves while the backend holds the request (prefill is the costly part).
    backend.behave({ latencyMs: 2_000 });
    const controller = new AbortController();
    const requestId = `stream-early-${id}`;
    const sent = chat(key, requestId, { stream: true }, controller.signal);
    await untilBackendHas(1);
    controller.abort();
    await expect(sent).rejects.toThrow();

    const row = await finalRow(gateway.admin, flush, requestId, id);
    expect(row).toMatchObject({ status: 'client_disconnected', completionTokens: 0, usageSource: 'gateway' });
    expect(row.promptTokens).toBe(row.promptTokensEstimated);
    expect(row.promptTokens).toBeGreaterThan(0);
    expect(parseUsd(row.billedCost)).toBe(costAtRowPrice(row));
    expect(parseUsd(row.billedCost)).toBeGreaterThan(0n);
    expect(await settledBudget(gateway.admin, flush, id)).toMatchObject({ spent: row.billedCost, reserved: '0' });
  });

  test('a backend that never answers: 504, and the prompt it may have read is billed', async () => {
    const { id, key } = await budgetedKey('hang');
    backend.behave({ fail: { kind: 'hang' } });
    const requestId = `hang-${id}`;
    const error = await errorOf(await chat(key, requestId, { model: 'hurried' }));
    expect(error).toMatchObject({ status: 504, code: 'upstream_timeout' });
    const row = await finalRow(gateway.admin, flush, requestId, id);
    expect(row).toMatchObject({ status: 'timeout', completionTokens: 0, usageSource: 'gateway', errorCode: 'upstream_timeout' });
    expect(row.promptTokens).toBe(row.promptTokensEstimated);
    expect(row.promptTokens).toBeGreaterThan(0);
    expect(parseUsd(row.billedCost)).toBe(costAtRowPrice(row));
    expect(await settledBudget(gateway.admin, flush, id)).toMatchObject({ spent: row.billedCost, reserved: '0' });
  });

  test('a non-streamed answer slower than the deadline: 504, prompt billed', async () => {
    const { id, key } = await budgetedKey('slow json');
    backend.behave({ completionTokens: 30, tokenMs: 50 });
    const requestId = `slow-${id}`;
    const error = await errorOf(await chat(key, requestId, { model: 'hurried' }));
    expect(error).toMatchObject({ status: 504, code: 'upstream_timeout' });
    const row = await finalRow(gateway.admin, flush, requestId, id);
    expect(row).toMatchObject({ status: 'timeout', completionTokens: 0 });
    expect(row.promptTokens).toBeGreaterThan(0);
    expect(parseUsd(row.billedCost)).toBeGreaterThan(0n);
  });

  test('a stream that runs past the deadline: an error event, and the prompt and what was relayed are billed', async () => {
    const { id, key } = await budgetedKey('slow stream');
    backend.behave({ completionTokens: 30, tokenMs: 30 });
    const requestId = `slow-stream-${id}`;
    const read = await readStream(await chat(key, requestId, { model: 'hurried', stream: true }));
    expect(read.error).toMatchObject({ code: 'upstream_timeout' });
    const received = receivedTokens(read);
    expect(received).toBeGreaterThan(0);
    const row = await finalRow(gateway.admin, flush, requestId, id);
    expect(row).toMatchObject({ status: 'timeout', usageSource: 'gateway' });
    expect(row.completionTokens).toBeGreaterThanOrEqual(received);
    expect(row.promptTokens).toBeGreaterThan(0);
  });
});
