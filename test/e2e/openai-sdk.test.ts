import OpenAI, { APIError, BadRequestError, NotFoundError } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { openStore } from '../../src/store/open';
import { type FakeVllm, startFakeVllm } from '../doubles/fake-vllm';
import { startTestGateway, type TestGateway, testConfig } from '../support/gateway';

let backend: FakeVllm;
let gateway: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  backend = await startFakeVllm();
  const store = await openStore({ dataDir: 'memory://' });
  gateway = await startTestGateway({ store, config: testConfig(backend.url) });
  const { key } = await gateway.createKey({ name: 'sdk' });
  client = new OpenAI({ apiKey: key, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.stop();
  await gateway?.store.close();
  await backend?.close();
});

beforeEach(() => backend.reset());

const messages = [{ role: 'user' as const, content: 'Say hello.' }];

describe('the official OpenAI SDK through tollgate', () => {
  test('chat, not streamed: the reply, usage with cost, and headers', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'gpt-4', messages, max_tokens: 20 }).withResponse();
    expect(data.choices[0]!.message.content).toBe(' tok tok tok tok tok');
    expect(data.usage).toMatchObject({ completion_tokens: 5 });
    const usage = data.usage as unknown as { prompt_tokens: number; completion_tokens: number; cost: string };
    // gpt-4: $0.03 prompt and $0.06 completion per 1k tokens
    const expected = (usage.prompt_tokens * 30_000_000 + usage.completion_tokens * 60_000_000) / 1e12;
    expect(Number(usage.cost)).toBeCloseTo(expected, 12);
    expect(response.headers.get('x-tollgate-cost')).toBe(usage.cost);
    expect(response.headers.get('x-request-id')).toMatch(/^req_/);
    expect(Number(response.headers.get('x-tollgate-prompt-tokens'))).toBeGreaterThan(0);
    // The backend saw the served name and the checked cap.
    expect(backend.received[0]!.body).toMatchObject({ model: 'served-name', max_tokens: 20 });
  });

  test('chat, streamed with include_usage: deltas, then a usage chunk that carries cost', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4',
      messages,
      max_tokens: 3,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: (OpenAI.CompletionUsage & { cost?: string }) | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(' tok tok tok');
    expect(usage).toMatchObject({ completion_tokens: 3 });
    expect(usage!.cost).toMatch(/^0\.\d+$/);
  });

  test('chat, streamed without include_usage: the gateway still gets usage, the client sees none', async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-4', messages, max_tokens: 4, stream: true });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.some((chunk) => chunk.usage)).toBe(false);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(' tok tok tok tok');
    expect(backend.received[0]!.body.stream_options).toEqual({ include_usage: true });
  });

  test('a missing max_tokens forwards the rest of the window', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'gpt-4', messages }).withResponse();
    expect(data.choices[0]!.message.content).toBe(' tok tok tok tok tok');
    const prompt = Number(response.headers.get('x-tollgate-prompt-tokens'));
    expect(backend.received[0]!.body.max_tokens).toBe(8192 - prompt);
  });

  test('completions and embeddings', async () => {
    const completion = await client.completions.create({ model: 'gpt-4', prompt: 'Once upon a time', max_tokens: 2 });
    expect(completion.choices[0]!.text).toBe(' tok tok');
    expect((completion.usage as unknown as { cost: string }).cost).toMatch(/^0\.\d+$/);
    const embedding = await client.embeddings.create({ model: 'gpt-4', input: ['one', 'two'], encoding_format: 'float' });
    expect(embedding.data).toHaveLength(2);
    expect(embedding.usage.prompt_tokens).toBeGreaterThan(0);
  });

  test('models lists the configured models with their context windows', async () => {
    const models = [];
    for await (const model of client.models.list()) models.push(model);
    expect(models.map((m) => [m.id, (m as unknown as { context_window: number }).context_window])).toEqual([
      ['gpt-4', 8192],
      ['gpt-4-32k', 32768],
    ]);
  });

  test('a context overflow is a BadRequestError with code context_length_exceeded, and the backend is not called', async () => {
    const long = 'word '.repeat(9000);
    const error = await client.chat.completions
      .create(
        { model: 'gpt-4', messages: [{ role: 'user', content: long }], max_tokens: 100 },
        { headers: { 'x-tollgate-context-policy': 'reject' } },
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).code).toBe('context_length_exceeded');
    expect((error as BadRequestError).message).toMatch(/maximum context length is 8192 tokens\. However, you requested \d+ tokens/);
    expect(backend.received).toHaveLength(0);
  });

  test('an overflow that fits the extended window is routed there and says so', async () => {
    const long = 'word '.repeat(9000);
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4', messages: [{ role: 'user', content: long }], max_tokens: 100 })
      .withResponse();
    expect(response.headers.get('x-tollgate-routed-model')).toBe('gpt-4-32k');
    expect(data.choices[0]!.message.content).toBe(' tok tok tok tok tok');
    expect(backend.received[0]!.body.model).toBe('gpt-4-32k');
  });

  test('an unknown model is NotFoundError model_not_found', async () => {
    const error = await client.chat.completions.create({ model: 'nope', messages }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).code).toBe('model_not_found');
  });

  test("the backend's own errors pass through with their status", async () => {
    backend.behave({
      fail: { status: 400, body: { object: 'error', message: 'bad sampling params', type: 'BadRequestError', param: null, code: 400 } },
    });
    const error = await client.chat.completions.create({ model: 'gpt-4', messages }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBe(400);
    expect((error as APIError).message).toContain('bad sampling params');
  });

  test('a stream reaches the client chunk by chunk, before the backend sends its last', async () => {
    let release!: () => void;
    backend.behave({ completionTokens: 4, gate: new Promise<void>((resolve) => (release = resolve)) });
    const stream = await client.chat.completions.create({ model: 'gpt-4', messages, max_tokens: 4, stream: true });
    const seen: string[] = [];
    for await (const chunk of stream) {
      const content = chunk.choices[0]?.delta.content;
      if (content) seen.push(content);
      // Three tokens arrived while the backend still holds the fourth: nothing was buffered.
      if (seen.length === 3) release();
    }
    expect(seen).toEqual([' tok', ' tok', ' tok', ' tok']);
  });

  test('a backend that reports no usage: the gateway counts what it returned, streamed or not', async () => {
    backend.behave({ omitUsage: true, completionTokens: 4 });
    const { data, response } = await client.chat.completions.create({ model: 'gpt-4', messages, max_tokens: 10 }).withResponse();
    const usage = data.usage as unknown as { prompt_tokens: number; completion_tokens: number; cost: string };
    expect(usage.completion_tokens).toBe(4); // ' tok' four times is four cl100k tokens
    expect(usage.prompt_tokens).toBe(Number(response.headers.get('x-tollgate-prompt-tokens')));
    await gateway.ledger.flush(5_000);
    const row = (await (await gateway.admin('GET', `/admin/requests/${response.headers.get('x-request-id')}`)).json()) as {
      usageSource: string;
      billedCost: string;
    };
    expect(row).toMatchObject({ usageSource: 'gateway', billedCost: usage.cost });

    const stream = await client.chat.completions.create({
      model: 'gpt-4',
      messages,
      max_tokens: 10,
      stream: true,
      stream_options: { include_usage: true },
    });
    let streamedUsage: (OpenAI.CompletionUsage & { cost?: string }) | undefined;
    for await (const chunk of stream) if (chunk.usage) streamedUsage = chunk.usage;
    expect(streamedUsage).toMatchObject({ completion_tokens: 4, prompt_tokens: usage.prompt_tokens, cost: usage.cost });
  });
});
