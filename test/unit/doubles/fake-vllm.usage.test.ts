// Usage as vLLM reports it (continuous per-chunk stats, the final chunk), and as a lying backend might.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { chatPromptTokens } from '../../doubles/vllm-protocol';
import { allChunks, chat, post as postTo } from './http';

let vllm: FakeVllm;
beforeAll(async () => {
  vllm = await startFakeVllm();
});
afterEach(() => vllm.reset());
afterAll(() => vllm.close());

const post = (path: string, body: unknown) => postTo(vllm, path, body);
const stream = (options: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}) =>
  post('/chat/completions', chat({ stream: true, ...(options && { stream_options: options }), ...extra })).then(allChunks);
const PROMPT = chatPromptTokens(chat().messages);

describe('continuous_usage_stats', () => {
  test('every chunk carries the running usage of its own choice; the final chunk the totals', async () => {
    vllm.behave({ completionTokens: 2 });
    const chunks = await stream({ include_usage: true, continuous_usage_stats: true }, { n: 2 });
    const final = chunks.pop();
    // role 0, role 1, token 1 of each, token 2 of each, EOS of each
    expect(chunks.map((c) => [c.choices[0].index, c.usage.completion_tokens])).toEqual([
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
      [0, 2],
      [1, 2],
      [0, 2],
      [1, 2],
    ]);
    for (const c of chunks)
      expect(c.usage).toEqual({
        prompt_tokens: PROMPT,
        total_tokens: PROMPT + c.usage.completion_tokens,
        completion_tokens: c.usage.completion_tokens,
      });
    expect(final).toMatchObject({ choices: [], usage: { prompt_tokens: PROMPT, completion_tokens: 4, total_tokens: PROMPT + 4 } });
  });

  test('batched completions: each chunk counts the prompt of its own choice', async () => {
    const chunks = await allChunks(
      await post('/completions', {
        prompt: [[1], [1, 2, 3]],
        max_tokens: 1,
        stream: true,
        stream_options: { include_usage: true, continuous_usage_stats: true },
      }),
    );
    expect(chunks.map((c) => c.usage)).toEqual([
      { prompt_tokens: 1, total_tokens: 2, completion_tokens: 1 },
      { prompt_tokens: 3, total_tokens: 4, completion_tokens: 1 },
      { prompt_tokens: 4, total_tokens: 6, completion_tokens: 2 },
    ]);
  });

  test('like vLLM, continuous stats without include_usage report nothing', async () => {
    for (const c of await stream({ continuous_usage_stats: true })) expect('usage' in c).toBe(false);
  });
});

describe('lying usage', () => {
  test('usageOverride applies to the body, the final stream chunk and every per-chunk usage', async () => {
    vllm.behave({ usageOverride: { completion_tokens: 1 } });
    expect((await (await post('/chat/completions', chat())).json()).usage).toMatchObject({
      completion_tokens: 1,
      total_tokens: PROMPT + 1,
    });
    const chunks = await stream({ include_usage: true, continuous_usage_stats: true });
    for (const c of chunks) expect(c.usage).toMatchObject({ completion_tokens: 1, total_tokens: PROMPT + 1 });
    expect(chunks.at(-1).choices).toEqual([]);
  });

  test.each([3e9, -7, 2.5, '12', null])('absurd completion_tokens %j reported as given', async (lie) => {
    vllm.behave({ usageOverride: { completion_tokens: lie } });
    const body = await (await post('/chat/completions', chat())).json();
    expect(body.usage.completion_tokens).toBe(lie);
    expect(body.choices[0].message.content).toBe(' tok'.repeat(5)); // what was really generated
    expect((await stream({ include_usage: true })).at(-1).usage.completion_tokens).toBe(lie);
  });

  test('usage 0/0, and a total that does not add up', async () => {
    vllm.behave({ usageOverride: { prompt_tokens: 0, completion_tokens: 0 } });
    expect((await (await post('/completions', { prompt: 'hello' })).json()).usage).toMatchObject({
      prompt_tokens: 0,
      completion_tokens: 0,
      total_tokens: 0,
    });
    vllm.behave({ usageOverride: { total_tokens: 1 } });
    expect((await stream({ include_usage: true })).at(-1).usage).toEqual({ prompt_tokens: PROMPT, total_tokens: 1, completion_tokens: 5 });
  });

  test('perChunkUsageOnly: usage in every chunk whatever was asked, never a final usage chunk', async () => {
    vllm.behave({ perChunkUsageOnly: true, completionTokens: 3 });
    for (const options of [undefined, { include_usage: true }]) {
      const chunks = await stream(options);
      expect(chunks.every((c) => c.choices.length === 1)).toBe(true);
      expect(chunks.map((c) => c.usage.completion_tokens)).toEqual([0, 1, 2, 3, 3]);
    }
  });

  test('omitUsage wins over continuous stats', async () => {
    vllm.behave({ omitUsage: true });
    for (const c of await stream({ include_usage: true, continuous_usage_stats: true })) expect('usage' in c).toBe(false);
  });
});
