// What the fake model generates, as vLLM shapes it: batched prompts, n and best_of, interleaved
// streams, reasoning and tool calls.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { chatPromptTokens, countTokens } from '../../doubles/vllm-protocol';
import { allChunks, chat, post as postTo } from './http';

let vllm: FakeVllm;
beforeAll(async () => {
  vllm = await startFakeVllm();
});
afterEach(() => vllm.reset());
afterAll(() => vllm.close());

const post = (path: string, body: unknown) => postTo(vllm, path, body);
const json = async (path: string, body: unknown) => (await post(path, body)).json();

describe('batched prompts on /v1/completions', () => {
  test('n choices per prompt, prompt-major indexes, usage over every prompt and choice', async () => {
    const body = await json('/completions', { model: 'base', prompt: ['one', 'two three', 'four'], n: 2, max_tokens: 3 });
    expect(body.choices.map((c: any) => [c.index, c.text, c.finish_reason])).toEqual(
      [0, 1, 2, 3, 4, 5].map((i) => [i, ' tok'.repeat(3), 'length']),
    );
    const promptTokens = countTokens('one') + countTokens('two three') + countTokens('four');
    expect(body.usage).toEqual({
      prompt_tokens: promptTokens,
      total_tokens: promptTokens + 18,
      completion_tokens: 18,
      prompt_tokens_details: null,
    });
  });

  test('best_of generates more sequences than it returns: n choices, usage of those only, the GPU time of all', async () => {
    const body = await json('/completions', { model: 'base', prompt: [[1, 2], [3]], n: 1, best_of: 3 });
    expect(body.choices.map((c: any) => c.index)).toEqual([0, 1]);
    expect(body.usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 10 });
    expect(vllm.received[0]).toMatchObject({ generatedTokens: 2 * 3 * 5, sentTokens: 10, completed: true });
  });

  test('vLLM rejects best_of below n, n below 1, and stream_options without stream', async () => {
    const bestOf = await post('/completions', { prompt: 'x', n: 3, best_of: 2 });
    expect(bestOf.status).toBe(400);
    expect((await bestOf.json()).message).toBe('best_of must be greater than or equal to n, got n=3 and best_of=2.');
    expect((await json('/completions', { prompt: 'x', n: 0 })).message).toBe('n must be at least 1, got 0.');
    const options = await post('/chat/completions', chat({ stream_options: { include_usage: true } }));
    expect(options.status).toBe(400);
    expect((await options.json()).message).toBe('Stream options can only be defined when `stream=True`.');
  });

  test('every prompt of a batch is checked against maxModelLen', async () => {
    vllm.behave({ maxModelLen: 100 });
    const res = await post('/completions', { prompt: [[1], Array(95).fill(7)], max_tokens: 10 });
    expect(res.status).toBe(400);
    expect((await res.json()).message).toContain('you requested 105 tokens (95 in the messages, 10 in the completion)');
  });

  test('completions read max_tokens only; without it vLLM checks the context for 16, the fake still generates completionTokens', async () => {
    const body = await json('/completions', { prompt: 'x', max_completion_tokens: 2 });
    expect(body.choices[0]).toMatchObject({ text: ' tok'.repeat(5), finish_reason: 'stop' });
    vllm.behave({ maxModelLen: 20 });
    expect((await json('/completions', { prompt: [1, 2, 3, 4, 5] })).message).toContain('(5 in the messages, 16 in the completion)');
    expect((await json('/completions', { prompt: [1, 2, 3, 4], max_tokens: 16 })).usage.completion_tokens).toBe(5);
  });

  test('a batched stream interleaves every prompt and choice per token, then totals in the usage chunk', async () => {
    vllm.behave({ completionTokens: 2 });
    const chunks = await allChunks(
      await post('/completions', { prompt: ['a', 'b'], n: 2, stream: true, stream_options: { include_usage: true } }),
    );
    const usage = chunks.pop();
    expect(chunks.map((c) => [c.choices[0].index, c.choices[0].text, c.choices[0].finish_reason])).toEqual([
      ...[0, 1, 2, 3].map((i) => [i, ' tok', null]),
      ...[0, 1, 2, 3].map((i) => [i, ' tok', null]),
      ...[0, 1, 2, 3].map((i) => [i, '', 'stop']),
    ]);
    expect(usage).toMatchObject({ choices: [], usage: { prompt_tokens: 2, completion_tokens: 8, total_tokens: 10 } });
  });
});

describe('n > 1 on chat', () => {
  test('streams a role chunk per choice, then each token of every choice in turn, then each finish', async () => {
    vllm.behave({ completionTokens: 2 });
    const chunks = await allChunks(await post('/chat/completions', chat({ n: 3, stream: true })));
    expect(chunks.map((c) => c.choices[0].index)).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]);
    expect(chunks.slice(0, 3).map((c) => c.choices[0].delta)).toEqual(Array(3).fill({ role: 'assistant', content: '' }));
    expect(chunks.slice(9).map((c) => c.choices[0])).toEqual(
      [0, 1, 2].map((index) => ({ index, delta: { content: '' }, logprobs: null, finish_reason: 'stop', stop_reason: null })),
    );
  });
});

describe('reasoning', () => {
  test('streams reasoning deltas before the content; usage counts them, with completion_tokens_details', async () => {
    vllm.behave({ reasoningTokens: 3, completionTokens: 2, word: ' hm' });
    const chunks = await allChunks(await post('/chat/completions', chat({ stream: true, stream_options: { include_usage: true } })));
    const usage = chunks.pop();
    expect(chunks.map((c) => c.choices[0].delta)).toEqual([
      { role: 'assistant', content: '' },
      { reasoning: ' hm' },
      { reasoning: ' hm' },
      { reasoning: ' hm' },
      { content: ' hm' },
      { content: ' hm' },
      {},
    ]);
    expect(usage.usage).toMatchObject({ completion_tokens: 5, completion_tokens_details: { reasoning_tokens: 3 } });
  });

  test('non-streamed: message.reasoning, or reasoning_content; a cap inside the reasoning leaves content null', async () => {
    vllm.behave({ reasoningTokens: 3, completionTokens: 2 });
    const body = await json('/chat/completions', chat());
    expect(body.choices[0].message).toEqual({ role: 'assistant', content: ' tok tok', reasoning: ' tok tok tok' });
    expect(body.usage).toMatchObject({ completion_tokens: 5, completion_tokens_details: { reasoning_tokens: 3 } });
    vllm.behave({ reasoningField: 'reasoning_content' });
    const capped = await json('/chat/completions', chat({ max_completion_tokens: 2 }));
    expect(capped.choices[0]).toMatchObject({
      message: { role: 'assistant', content: null, reasoning_content: ' tok tok' },
      finish_reason: 'length',
    });
    expect(capped.usage.completion_tokens).toBe(2);
  });
});

describe('tool calls', () => {
  const tools = [
    {
      type: 'function',
      function: {
        name: 'get_weather',
        description: 'Weather in a city',
        parameters: { type: 'object', properties: { city: { type: 'string' } } },
      },
    },
  ];
  const args = '{"city": "Paris", "unit": "celsius"}';
  const callTokens = countTokens('get_weather') + countTokens(args);

  test('streams the id, type, index and name, then the arguments in pieces; finish_reason tool_calls', async () => {
    vllm.behave({ toolCalls: [{ arguments: args }] });
    const chunks = await allChunks(await post('/chat/completions', chat({ tools, stream: true, stream_options: { include_usage: true } })));
    const usage = chunks.pop();
    const deltas = chunks.map((c) => c.choices[0].delta);
    expect(deltas[0]).toEqual({ role: 'assistant', content: '' });
    expect(deltas[1]).toEqual({
      tool_calls: [
        { id: expect.stringMatching(/^chatcmpl-tool-[0-9a-f]{32}$/), type: 'function', index: 0, function: { name: 'get_weather' } },
      ],
    });
    const pieces = deltas.slice(2, -1);
    expect(pieces.length).toBeGreaterThan(3);
    for (const piece of pieces) expect(Object.keys(piece.tool_calls[0])).toEqual(['index', 'function']);
    expect(pieces.map((d) => d.tool_calls[0].function.arguments).join('')).toBe(args);
    expect(chunks.at(-1).choices[0]).toMatchObject({ delta: {}, finish_reason: 'tool_calls' });
    expect(usage.usage).toMatchObject({ prompt_tokens: chatPromptTokens(chat().messages, tools), completion_tokens: callTokens });
  });

  test('non-streamed: message.tool_calls with content null; a named tool_choice finishes with stop', async () => {
    vllm.behave({ toolCalls: [{ arguments: args }, { name: 'get_time', arguments: '{}' }] });
    const body = await json('/chat/completions', chat({ tools }));
    expect(body.choices[0]).toMatchObject({
      message: {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: expect.stringMatching(/^chatcmpl-tool-/), type: 'function', function: { name: 'get_weather', arguments: args } },
          { type: 'function', function: { name: 'get_time', arguments: '{}' } },
        ],
      },
      finish_reason: 'tool_calls',
    });
    expect(body.usage.completion_tokens).toBe(callTokens + countTokens('get_time') + countTokens('{}'));
    const named = await json('/chat/completions', chat({ tools, tool_choice: { type: 'function', function: { name: 'lookup' } } }));
    expect(named.choices[0].message.tool_calls.map((c: any) => c.function.name)).toEqual(['lookup', 'lookup']);
    expect(named.choices[0].finish_reason).toBe('stop');
  });

  test('no tools offered, or tool_choice none: plain content', async () => {
    vllm.behave({ toolCalls: [{ arguments: args }] });
    expect((await json('/chat/completions', chat())).choices[0].message).toEqual({ role: 'assistant', content: ' tok'.repeat(5) });
    expect((await json('/chat/completions', chat({ tools, tool_choice: 'none' }))).choices[0].finish_reason).toBe('stop');
  });
});
