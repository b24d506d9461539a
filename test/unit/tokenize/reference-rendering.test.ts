import type { Template } from '@huggingface/jinja';
import { beforeAll, describe, expect, test } from 'vitest';
import type { EncodingName } from '../../../src/config';
import { type ChatCountOptions, type Counter, countChatRequest, ITEM_TOKENS, loadCounter, SECTION_TOKENS } from '../../../src/tokenize';
import { COOKBOOK, DOCUMENTS, NESTED_TOOLS, PLAIN_CHAT, TOOL_ROUND_TRIP, WEATHER_TOOL } from './conversations';
import { randomRequest } from './random-request';
import { countRendered, loadTemplate, renderRequest } from './template-render';

// Our count must bound what the backend's template renders (counted with the same encoding),
// and stay close: ours <= rendered * slope + 64 + the allowances countChatRequest adds on
// purpose for template wording it cannot see (SECTION_TOKENS per section, ITEM_TOKENS per item).
// A template's constant text (a default system line, BOS) is the model's, not the request's:
// it is measured on an empty request and belongs in the model's config.

const ASK = { role: 'user', content: 'Which of these should I use?' };
const REQUESTS: [string, Record<string, unknown>][] = [
  ['plain chat', { messages: PLAIN_CHAT }],
  ['the cookbook conversation', { messages: COOKBOOK }],
  ['one tool', { messages: [{ role: 'user', content: "What's the weather like in Paris?" }], tools: [WEATHER_TOOL] }],
  ['several tools with nested schemas', { messages: [ASK], tools: NESTED_TOOLS }],
  ['legacy functions beside an empty tools', { messages: [ASK], tools: [], functions: NESTED_TOOLS.map((tool) => tool.function) }],
  ['documents', { messages: [{ role: 'user', content: 'Can I fly premium economy to Brazil?' }], documents: DOCUMENTS }],
  ['tool calls and results', { messages: TOOL_ROUND_TRIP, tools: NESTED_TOOLS }],
  [
    'template arguments',
    {
      messages: PLAIN_CHAT,
      chat_template_kwargs: {
        system_instructions: 'Answer in British English. Cite sources.',
        enable_thinking: true,
        persona: { name: 'Ledger', tone: ['dry', 'precise'] },
      },
    },
  ],
  [
    'a reply schema',
    {
      messages: [ASK],
      response_format: { type: 'json_schema', json_schema: { name: 'invoice', schema: NESTED_TOOLS[1]!.function.parameters } },
    },
  ],
  [
    'everything at once',
    {
      messages: TOOL_ROUND_TRIP,
      tools: NESTED_TOOLS,
      documents: DOCUMENTS,
      chat_template_kwargs: { system_instructions: 'Be brief.', persona: { name: 'Ledger' } },
    },
  ],
];

/** What countChatRequest adds for template wording: per section, per item, per template argument. */
function allowances(body: Record<string, unknown>): number {
  let tokens = 0;
  for (const field of ['tools', 'functions', 'documents']) {
    const items = body[field] as unknown[] | undefined;
    if (items?.length) tokens += SECTION_TOKENS + ITEM_TOKENS * items.length;
  }
  return tokens + ITEM_TOKENS * Object.keys((body.chat_template_kwargs ?? {}) as object).length;
}

const ENCODINGS: EncodingName[] = ['cl100k_base', 'o200k_base'];
const counters = new Map<EncodingName, Counter>();
beforeAll(async () => {
  for (const encoding of ENCODINGS) counters.set(encoding, await loadCounter(encoding));
});

async function compare(encoding: EncodingName, template: Template, body: Record<string, unknown>, options: ChatCountOptions = {}) {
  const counter = counters.get(encoding)!;
  const constant =
    countRendered(counter, renderRequest(template, { messages: [] })) - (await countChatRequest(counter, { messages: [] }, '', options));
  return {
    ours: await countChatRequest(counter, body, 'llama-3.1-8b', options),
    rendered: countRendered(counter, renderRequest(template, body)) - constant,
  };
}

describe.each(ENCODINGS)('%s', (encoding) => {
  test.each(REQUESTS)('%s: an upper bound of a tojson(indent=4) template, within 1.25× + 64', async (_, body) => {
    const { ours, rendered } = await compare(encoding, loadTemplate('indent4'), body);
    expect(ours).toBeGreaterThanOrEqual(rendered);
    expect(ours).toBeLessThanOrEqual(rendered * 1.25 + 64 + allowances(body));
  });

  // The compact template does not print response_format; that case is the indent4 one's.
  const compactCases = REQUESTS.filter(([name]) => name !== 'a reply schema');

  test.each(compactCases)(
    '%s: an upper bound of a compact tojson template, within 1.5× + 64 (the price of not knowing the layout)',
    async (_, body) => {
      const { ours, rendered } = await compare(encoding, loadTemplate('compact'), body);
      expect(ours).toBeGreaterThanOrEqual(rendered);
      expect(ours).toBeLessThanOrEqual(rendered * 1.5 + 64 + allowances(body));
    },
  );

  test.each(compactCases)('%s: with jsonLayout compact, an upper bound of the compact template within 1.25× + 64', async (_, body) => {
    const { ours, rendered } = await compare(encoding, loadTemplate('compact'), body, { jsonLayout: 'compact' });
    expect(ours).toBeGreaterThanOrEqual(rendered);
    expect(ours).toBeLessThanOrEqual(rendered * 1.25 + 64 + allowances(body));
  });

  test('random hostile values (quotes, escapes, unicode, markers, numbers, deep nesting) stay bounded in every template', async () => {
    for (let seed = 1; seed <= 60; seed++) {
      const body = randomRequest(seed);
      for (const name of ['indent4', 'compact']) {
        const { ours, rendered } = await compare(encoding, loadTemplate(name), body);
        expect(ours, `seed ${seed}, ${name}`).toBeGreaterThanOrEqual(rendered);
      }
      const compact = await compare(encoding, loadTemplate('compact'), body, { jsonLayout: 'compact' });
      expect(compact.ours, `seed ${seed}, compact layout`).toBeGreaterThanOrEqual(compact.rendered);
    }
  });

  test('a blank line after each header costs a token a message more than the default rules; the rules option covers it', async () => {
    const template = loadTemplate('header-newlines');
    const body = { messages: PLAIN_CHAT };
    const byDefault = await compare(encoding, template, body);
    expect(byDefault.rendered - byDefault.ours).toBe(PLAIN_CHAT.length);
    const covered = await compare(encoding, template, body, { rules: { tokensPerMessage: 4, tokensPerName: 1, replyPriming: 3 } });
    expect(covered.ours).toBe(covered.rendered);
  });
});
