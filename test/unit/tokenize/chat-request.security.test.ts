import { beforeAll, describe, expect, test } from 'vitest';
import { type Counter, countChatRequest, loadCounter, UncountableInputError } from '../../../src/tokenize';
import { plantedText } from './planted';

// A hostile client puts ~20k tokens wherever a chat template renders text. Each place must count
// at least the planted tokens, or the 8k window, the route to the extended model and the
// reservation are all bypassed.
let counter: Counter;
let plant: string;
let plantTokens: number;
beforeAll(async () => {
  counter = await loadCounter('cl100k_base');
  plant = plantedText(counter);
  plantTokens = counter.count(plant);
});

const ASK = { role: 'user', content: 'Hi' };
const count = (body: Record<string, unknown>) => countChatRequest(counter, body, 'llama-3.1-8b');
const tool = (parameters: Record<string, unknown>) => ({
  type: 'function',
  function: { name: 'lookup', description: 'Looks up.', parameters },
});

describe('planted text is counted wherever the template renders it', () => {
  const cases: [string, () => Record<string, unknown>][] = [
    [
      'a nested property description',
      () => ({
        tools: [tool({ type: 'object', properties: { a: { type: 'object', properties: { b: { type: 'string', description: plant } } } } })],
      }),
    ],
    [
      'an items description',
      () => ({ tools: [tool({ type: 'object', properties: { list: { type: 'array', items: { type: 'string', description: plant } } } })] }),
    ],
    ['a default', () => ({ tools: [tool({ type: 'object', properties: { a: { type: 'string', default: plant } } })] })],
    ['examples', () => ({ tools: [tool({ type: 'object', properties: { a: { type: 'string', examples: [plant] } } })] })],
    [
      '$defs',
      () => ({
        tools: [
          tool({ type: 'object', $defs: { Thing: { type: 'string', description: plant } }, properties: { a: { $ref: '#/$defs/Thing' } } }),
        ],
      }),
    ],
    [
      'functions next to an empty tools',
      () => ({ tools: [], functions: [{ name: 'lookup', description: plant, parameters: { type: 'object', properties: {} } }] }),
    ],
    ['documents', () => ({ documents: [{ title: 'Notes', text: plant }] })],
    ['chat_template_kwargs', () => ({ chat_template_kwargs: { system_instructions: plant } })],
    [
      'response_format.json_schema',
      () => ({ response_format: { type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object', description: plant } } } }),
    ],
    ['a tool_choice object', () => ({ tools: [tool({ type: 'object' })], tool_choice: { type: 'function', function: { name: plant } } })],
    [
      "an assistant tool call's arguments",
      () => ({
        messages: [
          ASK,
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: JSON.stringify({ note: plant }) } }],
          },
          { role: 'tool', tool_call_id: 'c1', content: 'done' },
        ],
      }),
    ],
    ['a tool message', () => ({ messages: [ASK, { role: 'tool', tool_call_id: 'c1', content: plant }] })],
    [
      'a tool message given as parts',
      () => ({ messages: [ASK, { role: 'tool', tool_call_id: 'c1', content: [{ type: 'text', text: plant }] }] }),
    ],
    [
      "a prior assistant turn's reasoning",
      () => ({ messages: [ASK, { role: 'assistant', content: 'ok', reasoning_content: plant }, ASK] }),
    ],
  ];
  test.each(cases)('in %s', async (_, body) => {
    expect(await count({ messages: [ASK], ...body() })).toBeGreaterThanOrEqual(plantTokens);
  });

  test('tool-call arguments count as the template re-renders them (Python separators add a token per item)', async () => {
    // vLLM parses `arguments` and the template prints it back with `tojson`: "[0, 0, ...]".
    const args = JSON.stringify({ ids: new Array(20_000).fill(0) });
    const rendered = counter.count(`{"ids": [${new Array(20_000).fill('0').join(', ')}]}`);
    const body = {
      messages: [ASK, { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: args } }] }],
    };
    expect(await count(body)).toBeGreaterThanOrEqual(rendered);
  });

  test('numbers count as a Python backend prints them (1.5e-05, not 0.000015)', async () => {
    const tiny = new Array(5_000).fill(0.000015);
    const rendered = counter.count(`[${new Array(5_000).fill('1.5e-05').join(', ')}]`);
    expect(await count({ messages: [ASK], tools: [tool({ type: 'number', enum: tiny })] })).toBeGreaterThanOrEqual(rendered);
  });
});

/** The UncountableInputError a body is refused with (fails the test if it is counted instead). */
async function refusal(body: Record<string, unknown>): Promise<UncountableInputError> {
  const error = await countChatRequest(counter, body).then(
    (tokens) => new Error(`counted as ${tokens} tokens`),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UncountableInputError);
  return error as UncountableInputError;
}

describe('what cannot be counted is refused, naming the field', () => {
  const user = (content: unknown) => ({ messages: [ASK, { role: 'assistant', content: 'ok' }, { role: 'user', content }] });
  const withPart = (part: unknown) => user([{ type: 'text', text: 'Listen:' }, part]);
  test.each([
    [
      'input_audio',
      withPart({ type: 'input_audio', input_audio: { data: 'UklGR...', format: 'wav' } }),
      'messages[2].content[1]',
      /type 'input_audio'/,
    ],
    [
      'audio_url',
      withPart({ type: 'audio_url', audio_url: { url: 'https://example.com/a.wav' } }),
      'messages[2].content[1]',
      /type 'audio_url'/,
    ],
    [
      'video_url',
      withPart({ type: 'video_url', video_url: { url: 'https://example.com/v.mp4' } }),
      'messages[2].content[1]',
      /type 'video_url'/,
    ],
    ['file', withPart({ type: 'file', file: { file_data: 'JVBERi0...' } }), 'messages[2].content[1]', /type 'file'/],
    ['image_pil', withPart({ type: 'image_pil', image_pil: 'x' }), 'messages[2].content[1]', /type 'image_pil'/],
    ['image_embeds', withPart({ type: 'image_embeds', image_embeds: 'x' }), 'messages[2].content[1]', /type 'image_embeds'/],
    ['an unknown type', withPart({ type: 'hologram', hologram: 'x' }), 'messages[2].content[1]', /type 'hologram'/],
    ['a part without a type', withPart({ text: 'x' }), 'messages[2].content[1]', /without a type/],
    ['a text part whose text is a number', withPart({ type: 'text', text: 42 }), 'messages[2].content[1].text', /a number, not text/],
    ['a text part without text', withPart({ type: 'text' }), 'messages[2].content[1].text', /missing, not text/],
    [
      'a refusal part whose refusal is an object',
      withPart({ type: 'refusal', refusal: { a: 1 } }),
      'messages[2].content[1].refusal',
      /an object/,
    ],
    [
      'an image part without a url',
      withPart({ type: 'image_url', image_url: { detail: 'low' } }),
      'messages[2].content[1].image_url',
      /not an image url/,
    ],
    ['a part that is null', withPart(null), 'messages[2].content[1]', /null, not a content part/],
    ['content that is an object', user({ type: 'text', text: 'x' }), 'messages[2].content', /an object, not text or a list/],
    ['content that is a number', user(7), 'messages[2].content', /a number/],
    ['a message that is a string', { messages: [ASK, 'hello'] }, 'messages[1]', /not a message object/],
    ['messages that are not a list', { messages: { 0: ASK } }, 'messages', /not a list/],
    [
      'a client chat template',
      { messages: [ASK], chat_template: '{% for i in range(99999) %}{{ messages }}{% endfor %}' },
      'chat_template',
      /chat template/,
    ],
    [
      'a chat template passed as a template argument',
      { messages: [ASK], chat_template_kwargs: { chat_template: '{{ x }}' } },
      'chat_template_kwargs.chat_template',
      /chat template/,
    ],
    [
      'a number past the double range',
      { messages: [ASK], tools: [tool({ type: 'integer', maximum: JSON.parse('1e999') })] },
      'tools[0].function.parameters.maximum',
      /double range/,
    ],
  ])('%s', async (_, body, param, message) => {
    const error = await refusal(body as Record<string, unknown>);
    expect(error.param).toBe(param);
    expect(error.message).toMatch(message);
    expect(error.message).toMatch(/cannot be counted, so the request is refused/);
  });

  test('an empty chat_template means the default one and is counted', async () => {
    await expect(countChatRequest(counter, { messages: [ASK], chat_template: '' })).resolves.toBeGreaterThan(0);
  });
});

describe('attacker-controlled structure', () => {
  const nested = (depth: number, leaf: unknown): unknown => {
    let value = leaf;
    for (let i = 0; i < depth; i++) value = { a: value };
    return value;
  };

  test('nesting far past any limit is refused, not a stack overflow', async () => {
    const error = await refusal({ messages: [ASK], tools: [tool(nested(200_000, 'deep') as Record<string, unknown>)] });
    expect(error.param).toMatch(/^tools\[0\]\.function\.parameters(\.a)+$/);
    expect(error.message).toMatch(/nested more than 256 levels deep/);
  });

  test('deep nesting inside a message field and inside tool-call arguments is refused too', async () => {
    const deepArgs = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const calls = [{ id: 'c', type: 'function', function: { name: 'f', arguments: deepArgs } }];
    expect((await refusal({ messages: [ASK, { role: 'assistant', tool_calls: calls }] })).param).toMatch(
      /^messages\[1\]\.tool_calls\[0\]\.function\.arguments(\[0\])+$/,
    );
    expect((await refusal({ messages: [ASK, { role: 'user', content: 'x', metadata: nested(100_000, 1) }] })).param).toMatch(
      /^messages\[1\]\.metadata/,
    );
  });

  test('nesting within the gateway limit (64) is counted, indentation included', async () => {
    const deep = await countChatRequest(counter, { messages: [ASK], tools: [tool(nested(60, plant) as Record<string, unknown>)] });
    expect(deep).toBeGreaterThanOrEqual(plantTokens + 60 * 2);
  });

  test('a 4 MB tool schema is counted in slices that hand the event loop back', async () => {
    const properties: Record<string, unknown> = {};
    for (let i = 0; i < 20_000; i++) properties[`field_${i}`] = { type: 'string', description: `${plant.slice(i * 7, i * 7 + 240)} #${i}` };
    const schema = tool({ type: 'object', properties });
    expect(JSON.stringify(schema).length).toBeGreaterThan(4_000_000);
    let turns = 0;
    let counting = true;
    const spin = () => {
      turns++;
      if (counting) setImmediate(spin);
    };
    setImmediate(spin);
    const tokens = await countChatRequest(counter, { messages: [ASK], tools: [schema] });
    counting = false;
    expect(tokens).toBeGreaterThan(counter.count(JSON.stringify(schema)));
    expect(turns).toBeGreaterThan(20); // the loop ran between slices, many times
  });
});
