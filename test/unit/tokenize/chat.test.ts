import { describe, expect, test } from 'vitest';
import type { Counter } from '../../../src/tokenize';
import {
  chatRulesFor,
  countChatPrompt,
  countChatRequest,
  countMessage,
  countTextInput,
  IMAGE_TOKENS_HIGH,
  IMAGE_TOKENS_LOW,
  loadCounter,
  tokenizerStats,
} from '../../../src/tokenize';
import { COOKBOOK, WEATHER_TOOL } from './conversations';

describe('chat prompt counting', () => {
  test.each(['gpt-4-0613', 'gpt-3.5-turbo-0613', 'gpt-4'])('cookbook conversation is 129 tokens for %s', async (model) => {
    const counter = await loadCounter('cl100k_base');
    expect(await countChatPrompt(counter, { messages: COOKBOOK }, model)).toBe(129);
  });

  test('a name costs its tokens plus one', async () => {
    const counter = await loadCounter('cl100k_base');
    const rules = chatRulesFor('cl100k_base', 'gpt-4');
    const plain = countMessage(counter, rules, { role: 'user', content: 'hi' });
    const named = countMessage(counter, rules, { role: 'user', content: 'hi', name: 'alice' });
    expect(named - plain).toBe(counter.count('alice') + 1);
  });

  test.each([
    ['low', IMAGE_TOKENS_LOW],
    ['high', IMAGE_TOKENS_HIGH],
    ['auto', IMAGE_TOKENS_HIGH],
  ])('an image part at detail %s is estimated at %i tokens', async (detail, estimate) => {
    const counter = await loadCounter('o200k_base');
    const content = [
      { type: 'text', text: 'What is in this picture?' },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.png', detail } },
    ];
    const tokens = await countChatPrompt(counter, { messages: [{ role: 'user', content }] }, 'gpt-4o');
    expect(tokens).toBe(3 + counter.count('user') + counter.count('What is in this picture?') + estimate + 3);
  });

  test('tool definitions count at least their JSON, whether sent as tools, functions, or both', async () => {
    const counter = await loadCounter('o200k_base');
    const messages = [{ role: 'user', content: "What's the weather like in Paris?" }];
    const bare = await countChatRequest(counter, { messages }, 'gpt-4o');
    const withTools = await countChatRequest(counter, { messages, tools: [WEATHER_TOOL] }, 'gpt-4o');
    const withFunctions = await countChatRequest(counter, { messages, functions: [WEATHER_TOOL.function] }, 'gpt-4o');
    const withBoth = await countChatRequest(counter, { messages, tools: [WEATHER_TOOL], functions: [WEATHER_TOOL.function] }, 'gpt-4o');
    expect(withTools - bare).toBeGreaterThanOrEqual(counter.count(JSON.stringify(WEATHER_TOOL, null, 4)));
    expect(withFunctions - bare).toBeGreaterThanOrEqual(counter.count(JSON.stringify(WEATHER_TOOL.function, null, 4)));
    expect(withBoth - bare).toBe(withTools - bare + (withFunctions - bare));
  });

  test('special-token strings in messages count as text and never throw', async () => {
    const counter = await loadCounter('cl100k_base');
    const messages = [{ role: 'user', content: '<|endoftext|><|im_start|>system' }];
    await expect(countChatPrompt(counter, { messages }, 'gpt-4')).resolves.toBeGreaterThan(10);
  });

  test('a test double counter is used as is, and never cached', async () => {
    const fake: Counter = {
      encoding: 'cl100k_base',
      cacheable: false,
      encode: (t) => [...t].map(() => 1),
      count: (t) => t.length,
      countAsync: async (t) => t.length,
      encodeAsync: async (t) => [...t].map(() => 1),
    };
    const messages = [{ role: 'user', content: 'abcd' }];
    expect(await countChatPrompt(fake, { messages }, 'gpt-4')).toBe(3 + 4 + 4 + 3);
  });
});

describe('message cache', () => {
  test('a new turn costs only its new message', async () => {
    const counter = await loadCounter('cl100k_base');
    const system = { role: 'system', content: `You are a billing assistant #${Math.random()}. `.repeat(200) };
    const messages: { role: string; content: string }[] = [system];
    const cacheStats = () => tokenizerStats().messageCache;
    await countChatPrompt(counter, { messages }, 'gpt-4'); // the first request sees the system prompt
    for (let turn = 1; turn <= 6; turn++) {
      messages.push({ role: turn % 2 ? 'user' : 'assistant', content: `turn ${turn}: how much did I spend?` });
      const before = cacheStats();
      const tokens = await countChatPrompt(counter, { messages }, 'gpt-4');
      const after = cacheStats();
      expect(after.misses - before.misses).toBe(1);
      expect(after.hits - before.hits).toBe(messages.length - 1);
      // cached or not, the count is the same as counting from scratch
      const rules = chatRulesFor('cl100k_base', 'gpt-4');
      expect(tokens).toBe(3 + messages.reduce((sum, m) => sum + countMessage(counter, rules, m), 0));
    }
    expect(cacheStats().bytes).toBeLessThanOrEqual(cacheStats().cap);
  });

  test('tools re-sent every turn are counted once, and count the same from the cache', async () => {
    const counter = await loadCounter('cl100k_base');
    const tools = [{ ...WEATHER_TOOL, function: { ...WEATHER_TOOL.function, description: `Weather #${Math.random()}` } }];
    const body = { messages: [{ role: 'user', content: 'hi' }], tools };
    const first = await countChatRequest(counter, body);
    const before = tokenizerStats().messageCache;
    expect(await countChatRequest(counter, body)).toBe(first);
    const after = tokenizerStats().messageCache;
    expect(after.hits - before.hits).toBe(2); // the message and the tools
    expect(after.misses - before.misses).toBe(0);
    expect(await countChatRequest(counter, body, '', { jsonLayout: 'compact' })).toBeLessThan(first); // layouts never share an entry
  });

  test('different chat rules never share an entry', async () => {
    const counter = await loadCounter('cl100k_base');
    const messages = [{ role: 'user', name: 'bob', content: `rules ${Math.random()}` }];
    const modern = await countChatPrompt(counter, { messages }, 'gpt-4');
    const legacy = await countChatPrompt(counter, { messages }, 'gpt-3.5-turbo-0301');
    expect(modern - legacy).toBe(1); // (3 per message + 1 per name) vs (4 - 1)
  });
});

describe('text inputs (completions prompt, embeddings input)', () => {
  test.each([
    ['a string', 'hello world', 2],
    ['a list of strings', ['hello world', 'hello'], 3],
    ['token ids', [15339, 1917, 0], 3],
    ['lists of token ids', [[15339, 1917], [1]], 3],
    ['anything else', { text: 'x' }, 0],
  ])('%s', async (_, input, expected) => {
    expect(await countTextInput(await loadCounter('cl100k_base'), input)).toBe(expected);
  });
});
