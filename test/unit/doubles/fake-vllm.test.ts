import { request } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { countTokens } from '../../doubles/vllm-protocol';
import { allEvents, chat, post as postTo, sseReader, until } from './http';

let vllm: FakeVllm;
beforeAll(async () => {
  vllm = await startFakeVllm();
});
afterEach(() => vllm.reset());
afterAll(() => vllm.close());

const post = (path: string, body: unknown, init: RequestInit = {}) => postTo(vllm, path, body, init);

describe('chat completions', () => {
  test('non-stream: vLLM shape, tiktoken prompt count, n choices, request recorded', async () => {
    const res = await post('/chat/completions', chat({ n: 2 }));
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ object: 'chat.completion', model: 'llama' });
    expect(body.id).toMatch(/^chatcmpl-/);
    expect(body.choices).toEqual(
      [0, 1].map((index) => ({
        index,
        message: { role: 'assistant', content: ' tok'.repeat(5) },
        logprobs: null,
        finish_reason: 'stop',
        stop_reason: null,
      })),
    );
    const promptTokens = 3 + 3 + countTokens('user') + countTokens('Hello there');
    expect(body.usage).toEqual({
      prompt_tokens: promptTokens,
      completion_tokens: 10,
      total_tokens: promptTokens + 10,
      prompt_tokens_details: null,
    });
    expect(vllm.received).toHaveLength(1);
    expect(vllm.received[0]).toMatchObject({ method: 'POST', path: '/v1/chat/completions', body: chat({ n: 2 }), aborted: false });
    expect(vllm.received[0]!.headers.authorization).toBe('Bearer sk-upstream');
  });

  test.each([
    [{ max_tokens: 3 }, 3, 'length'],
    [{ max_completion_tokens: 2, max_tokens: 4 }, 2, 'length'],
    [{ max_tokens: 50 }, 5, 'stop'],
  ])('%o caps generation at %i tokens, finish_reason %s', async (extra, tokens, finish) => {
    const body = await (await post('/chat/completions', chat(extra))).json();
    expect(body.choices[0].message.content).toBe(' tok'.repeat(tokens));
    expect(body.choices[0].finish_reason).toBe(finish);
    expect(body.usage.completion_tokens).toBe(tokens);
  });

  test('stream without include_usage: role chunk, one chunk per token, finish, [DONE], no usage anywhere', async () => {
    vllm.behave({ completionTokens: 3, word: ' hi' });
    const res = await post('/chat/completions', chat({ stream: true }));
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await allEvents(res);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks).toHaveLength(5);
    expect(chunks[0].choices[0]).toEqual({ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null });
    expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe(' hi hi hi');
    expect(chunks.at(-1).choices[0].finish_reason).toBe('stop');
    for (const c of chunks) expect(c).toMatchObject({ object: 'chat.completion.chunk', model: 'llama', id: chunks[0].id });
    for (const c of chunks) expect('usage' in c).toBe(false);
  });

  test('stream with include_usage: usage null on regular chunks, then a choices:[] usage chunk', async () => {
    const events = await allEvents(
      await post('/chat/completions', chat({ stream: true, stream_options: { include_usage: true }, max_tokens: 4 })),
    );
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    const usageChunk = chunks.pop();
    for (const c of chunks) expect(c.usage).toBeNull();
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage).toMatchObject({ completion_tokens: 4 });
    expect(usageChunk.usage.total_tokens).toBe(usageChunk.usage.prompt_tokens + 4);
    expect(chunks.at(-1).choices[0].finish_reason).toBe('length');
  });

  test('omitUsage and usageOverride', async () => {
    vllm.behave({ omitUsage: true });
    expect('usage' in (await (await post('/chat/completions', chat())).json())).toBe(false);
    const events = await allEvents(await post('/chat/completions', chat({ stream: true, stream_options: { include_usage: true } })));
    expect(events.some((e) => e.includes('usage'))).toBe(false);

    vllm.behave({ omitUsage: false, usageOverride: { prompt_tokens: 1000 } });
    expect((await (await post('/chat/completions', chat())).json()).usage).toMatchObject({
      prompt_tokens: 1000,
      completion_tokens: 5,
      total_tokens: 1005,
    });
  });

  test('splitWrites: events arrive cut mid-line yet parse', async () => {
    vllm.behave({ splitWrites: true, completionTokens: 4 });
    const pieces: string[] = [];
    const text = await new Promise<string>((resolve, reject) => {
      const req = request(`${vllm.url}/chat/completions`, { method: 'POST' }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (piece: string) => pieces.push(piece));
        res.on('end', () => resolve(pieces.join('')));
      });
      req.on('error', reject);
      req.end(JSON.stringify(chat({ stream: true, stream_options: { include_usage: true } })));
    });
    expect(pieces.some((p) => !p.endsWith('\n\n'))).toBe(true);
    const events = text.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(events.slice(0, -1).map((e) => JSON.parse(e.slice(6)).object)).toEqual(Array(7).fill('chat.completion.chunk'));
  });
});

describe('completions and embeddings', () => {
  test.each([
    ['a string', 'Hello world', 1, countTokens('Hello world')],
    ['string[]', ['a b', 'c'], 2, countTokens('a b') + countTokens('c')],
    ['number[]', [1, 2, 3], 1, 3],
    [
      'number[][]',
      [
        [1, 2],
        [3, 4, 5],
      ],
      2,
      5,
    ],
  ])('prompt as %s', async (_, prompt, prompts, promptTokens) => {
    const body = await (await post('/completions', { model: 'base', prompt, n: 2 })).json();
    expect(body.object).toBe('text_completion');
    expect(body.choices).toHaveLength(prompts * 2);
    expect(body.choices[0]).toEqual({ index: 0, text: ' tok'.repeat(5), logprobs: null, finish_reason: 'stop', stop_reason: null });
    expect(body.usage).toMatchObject({ prompt_tokens: promptTokens, completion_tokens: 10 * prompts });
  });

  test('completions stream text chunks; a capped choice carries finish_reason on its last token, as vLLM does', async () => {
    const events = await allEvents(await post('/completions', { model: 'base', prompt: 'x', stream: true, max_tokens: 2 }));
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks.map((c) => c.object)).toEqual(Array(2).fill('text_completion'));
    expect(chunks.map((c) => c.choices[0].text)).toEqual([' tok', ' tok']);
    expect(chunks.map((c) => c.choices[0].finish_reason)).toEqual([null, 'length']);
  });

  test('a stream that stops by itself ends each choice with an EOS chunk: empty text, finish_reason stop', async () => {
    const chunks = (await allEvents(await post('/completions', { model: 'base', prompt: 'x', stream: true })))
      .slice(0, -1)
      .map((e) => JSON.parse(e));
    expect(chunks).toHaveLength(6);
    expect(chunks.at(-1).choices).toEqual([{ index: 0, text: '', logprobs: null, finish_reason: 'stop', stop_reason: null }]);
  });

  test('embeddings: 8 numbers per input, deterministic, usage', async () => {
    const body = await (await post('/embeddings', { model: 'embed', input: ['one', 'two words'] })).json();
    expect(body).toMatchObject({ object: 'list', model: 'embed', usage: { prompt_tokens: countTokens('one') + countTokens('two words') } });
    expect(body.data.map((d: any) => [d.object, d.index, d.embedding.length])).toEqual([
      ['embedding', 0, 8],
      ['embedding', 1, 8],
    ]);
    const again = await (await post('/embeddings', { model: 'embed', input: 'one' })).json();
    expect(again.data[0].embedding).toEqual(body.data[0].embedding);
  });

  test('models: default name, then the names seen', async () => {
    const list = async () => (await (await fetch(`${vllm.url}/models`)).json()).data.map((m: any) => m.id);
    expect(await list()).toEqual(['fake-model']);
    await post('/chat/completions', chat());
    expect(await list()).toEqual(['llama']);
  });
});

describe('errors', () => {
  test('context length: 400 with vLLM wording and numbers', async () => {
    vllm.behave({ maxModelLen: 8192 });
    const res = await post('/completions', { model: 'base', prompt: Array(8000).fill(7), max_tokens: 1000 });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      object: 'error',
      message:
        "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens (8000 in the messages, 1000 in the completion). Please reduce the length of the messages or completion.",
      type: 'BadRequestError',
      param: null,
      code: 400,
    });
    expect((await post('/completions', { model: 'base', prompt: Array(8000).fill(7), max_tokens: 192 })).status).toBe(200);
  });

  test('invalid JSON is a 400 in vLLM shape; unknown path is 404', async () => {
    const res = await post('/chat/completions', '{nope');
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ object: 'error', type: 'BadRequestError', code: 400 });
    expect(vllm.received[0]!.body).toBe('{nope');
    expect((await fetch(`${vllm.url}/nowhere`)).status).toBe(404);
  });

  test('fail with a status: default vLLM body, or the given body', async () => {
    vllm.behave({ fail: { status: 503 } });
    const res = await post('/chat/completions', chat({ stream: true }));
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ object: 'error', type: 'ServiceUnavailableError', code: 503 });
    vllm.behave({ fail: { status: 500, body: { error: 'boom' } } });
    expect(await (await post('/chat/completions', chat())).json()).toEqual({ error: 'boom' });
  });

  test('disconnect before the head rejects the request', async () => {
    vllm.behave({ fail: { kind: 'disconnect' } });
    await expect(post('/chat/completions', chat())).rejects.toThrow();
    expect(vllm.received[0]!.aborted).toBe(false);
  });

  test('disconnect after N chunks cuts the stream after exactly N events', async () => {
    vllm.behave({ fail: { kind: 'disconnect', afterChunks: 2 } });
    const sse = sseReader(await post('/chat/completions', chat({ stream: true })));
    expect(await sse.next()).toContain('"role":"assistant"');
    expect(await sse.next()).toContain('" tok"');
    await expect(sse.next()).rejects.toThrow();
  });

  test('disconnect after 0 chunks sends the head, then drops', async () => {
    vllm.behave({ fail: { kind: 'disconnect', afterChunks: 0 } });
    const res = await post('/chat/completions', chat({ stream: true }));
    expect(res.status).toBe(200);
    await expect(sseReader(res).next()).rejects.toThrow();
  });

  test('hang never answers, and close() still returns', async () => {
    const hanging = await startFakeVllm({ fail: { kind: 'hang' } });
    const started = fetch(`${hanging.url}/chat/completions`, {
      method: 'POST',
      body: JSON.stringify(chat()),
      signal: AbortSignal.timeout(150),
    });
    await expect(started).rejects.toThrow();
    await until(() => hanging.received.length === 1);
    await hanging.close();
  });
});

describe('timing', () => {
  test('gate holds the last content chunk until it resolves', async () => {
    let open!: () => void;
    vllm.behave({ completionTokens: 3, gate: new Promise<void>((r) => (open = r)) });
    const sse = sseReader(await post('/chat/completions', chat({ stream: true })));
    for (let i = 0; i < 3; i++) expect(await sse.next()).toBeDefined(); // role + 2 tokens
    let fourth: string | undefined;
    const pending = sse.next().then((e) => (fourth = e));
    await new Promise((r) => setTimeout(r, 50));
    expect(fourth).toBeUndefined();
    open();
    await pending;
    expect(JSON.parse(fourth!).choices[0].delta.content).toBe(' tok');
  });

  test('latencyMs delays the head', async () => {
    vllm.behave({ latencyMs: 80 });
    const t0 = performance.now();
    await post('/chat/completions', chat());
    expect(performance.now() - t0).toBeGreaterThanOrEqual(75);
  });

  test('a client abort mid-stream is recorded and generation stops', async () => {
    vllm.behave({ completionTokens: 1000, chunkDelayMs: 5 });
    const controller = new AbortController();
    const sse = sseReader(await post('/chat/completions', chat({ stream: true }), { signal: controller.signal }));
    await sse.next();
    controller.abort();
    await until(() => vllm.received[0]!.aborted);
  });

  test('reset restores defaults and clears received', async () => {
    vllm.behave({ completionTokens: 1 });
    await post('/chat/completions', chat());
    vllm.reset();
    expect(vllm.received).toHaveLength(0);
    expect((await (await post('/chat/completions', chat())).json()).usage.completion_tokens).toBe(5);
  });
});
