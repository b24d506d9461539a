import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { parseUsd } from '../../../src/pricing';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { buildTestApp, type TestApp } from '../../support/app';
import { testConfig } from '../../support/gateway';
import { databases } from '../support/databases';
import { errorOf, finalRow, setBudget } from './ledger-view';

// Finding 4: text a chat template renders but the old counter did not see (a nested property's
// description, `items`, `default`/`examples`, `$defs`, `functions` beside an empty `tools`,
// vLLM's `documents` and `chat_template_kwargs`) was counted as 8–42 tokens: 20k tokens went
// past the 8k window, the route to the extended model and the reservation, and a request with
// policy `reject` was forwarded and answered 200. Audio and video parts were not counted at all.

/** About 12,000 cl100k tokens: more than the 8k window on its own. */
const HIDDEN = 'lorem '.repeat(12_000);
const user = [{ role: 'user', content: 'What is the weather?' }];
const tool = (parameters: Record<string, unknown>) => [{ type: 'function', function: { name: 'lookup', parameters } }];

const hiding: [string, Record<string, unknown>][] = [
  [
    "a nested property's description",
    {
      tools: tool({
        type: 'object',
        properties: { address: { type: 'object', properties: { street: { type: 'string', description: HIDDEN } } } },
      }),
    },
  ],
  [
    "an array's items description",
    { tools: tool({ type: 'object', properties: { stops: { type: 'array', items: { type: 'string', description: HIDDEN } } } }) },
  ],
  ['a default', { tools: tool({ type: 'object', properties: { city: { type: 'string', default: HIDDEN } } }) }],
  ['examples', { tools: tool({ type: 'object', properties: { city: { type: 'string', examples: [HIDDEN] } } }) }],
  [
    '$defs',
    {
      tools: tool({
        type: 'object',
        $defs: { Place: { type: 'string', description: HIDDEN } },
        properties: { p: { $ref: '#/$defs/Place' } },
      }),
    },
  ],
  [
    'functions beside an empty tools list',
    { tools: [], functions: [{ name: 'lookup', description: HIDDEN, parameters: { type: 'object' } }] },
  ],
  ["vLLM's documents", { documents: [{ title: 'Travel guide', text: HIDDEN }] }],
  ['chat_template_kwargs', { chat_template_kwargs: { system_prompt: HIDDEN } }],
  ['a response_format schema', { response_format: { type: 'json_schema', json_schema: { name: 'w', schema: { description: HIDDEN } } } }],
  [
    "an assistant message's tool call arguments",
    {
      messages: [
        { role: 'user', content: 'Look it up.' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: JSON.stringify({ q: HIDDEN }) } }],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
      ],
    },
  ],
];

describe.each(databases)('prompt text the template renders is counted, on $name', (database) => {
  let backend: FakeVllm;
  let gateway: TestApp;
  let key: string;

  beforeAll(async () => {
    backend = await startFakeVllm();
    gateway = await buildTestApp({ store: await database.open(), config: testConfig(backend.url) });
    key = (await gateway.createKey({ name: 'hider' })).key;
  });
  afterAll(async () => {
    await gateway?.flush();
    await gateway?.store.close();
    await backend?.close();
  });
  beforeEach(() => backend.reset());

  test.each(hiding)('12k tokens in %s: policy reject answers 400 context_length_exceeded, and nothing is sent', async (_name, fields) => {
    const body = { model: 'gpt-4', messages: user, max_tokens: 10, ...fields };
    const response = await gateway.call(key, '/v1/chat/completions', body, { 'x-tollgate-context-policy': 'reject' });
    const error = await errorOf(response);
    expect(error).toMatchObject({ status: 400, code: 'context_length_exceeded' });
    expect(error.message).toMatch(/maximum context length is 8192 tokens/);
    expect(backend.received).toHaveLength(0);

    const estimate = (await (await gateway.call(key, '/v1/estimate', body, { 'x-tollgate-context-policy': 'reject' })).json()) as {
      promptTokens: number;
      fits: boolean;
    };
    expect(estimate.promptTokens).toBeGreaterThan(12_000);
    expect(estimate.fits).toBe(false);
  });

  test.each(hiding)('12k tokens in %s: policy route serves it on the 32k model and reserves the whole prompt', async (_name, fields) => {
    const { id, key: budgeted } = await gateway.createKey({ name: 'routed' });
    await setBudget(gateway.admin, id, '10');
    const requestId = `hidden-${id}`;
    const response = await gateway.call(
      budgeted,
      '/v1/chat/completions',
      { model: 'gpt-4', messages: user, max_tokens: 10, ...fields },
      { 'x-request-id': requestId },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('x-tollgate-routed-model')).toBe('gpt-4-32k');
    const row = await finalRow(gateway.admin, gateway.flush, requestId, id);
    expect(row.routedModel).toBe('gpt-4-32k');
    // Reserved: the whole prompt at the 32k price ($0.06 per 1k). Billed: the backend's own prompt
    // count when it is not above the gateway's (the gateway's count bounds every common template).
    expect(row.promptTokensEstimated).toBeGreaterThan(12_000);
    expect(parseUsd(row.reservedCost)).toBeGreaterThanOrEqual(parseUsd('0.72'));
    expect(row.promptTokens).toBeLessThanOrEqual(row.promptTokensEstimated!);
  });

  test.each([
    ['chat_template', '/v1/chat/completions', { chat_template: '{{ messages }}' }],
    ['prompt_embeds', '/v1/completions', { prompt_embeds: 'AAAA' }],
    ['kv_transfer_params', '/v1/chat/completions', { kv_transfer_params: { do_remote_prefill: true } }],
    ['ec_transfer_params', '/v1/chat/completions', { ec_transfer_params: {} }],
    ['mm_processor_kwargs', '/v1/chat/completions', { mm_processor_kwargs: { max_pixels: 99_999_999 } }],
    ['media_io_kwargs', '/v1/chat/completions', { media_io_kwargs: { video: { num_frames: 100_000 } } }],
    ['vllm_xargs', '/v1/chat/completions', { vllm_xargs: { anything: 1 } }],
    ['echo', '/v1/completions', { echo: true }],
  ])('%s is refused with 400 unsupported_parameter, on the route and on /v1/estimate', async (field, path, extra) => {
    const base = path === '/v1/completions' ? { prompt: 'hello' } : { messages: user };
    const body = { model: 'gpt-4', max_tokens: 10, ...base, ...extra };
    for (const target of [path, '/v1/estimate']) {
      const error = await errorOf(await gateway.call(key, target, body));
      expect(error).toMatchObject({ status: 400, code: 'unsupported_parameter', param: field });
    }
    expect(backend.received).toHaveLength(0);
  });

  test.each([
    ['an audio part', [{ type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } }], 'messages[0].content[0]'],
    ['a video part', [{ type: 'video_url', video_url: { url: 'https://example.com/v.mp4' } }], 'messages[0].content[0]'],
    ['a part of a type never seen', [{ type: 'hologram', data: 'x' }], 'messages[0].content[0]'],
    ['a part with no type', [{ text: 'hi' }], 'messages[0].content[0]'],
  ])('%s cannot be counted: 400 uncountable_input naming it, nothing sent', async (_name, content, param) => {
    const body = { model: 'gpt-4', max_tokens: 10, messages: [{ role: 'user', content }] };
    for (const target of ['/v1/chat/completions', '/v1/estimate']) {
      const error = await errorOf(await gateway.call(key, target, body));
      expect(error).toMatchObject({ status: 400, code: 'uncountable_input', param });
    }
    expect(backend.received).toHaveLength(0);
  });

  test('a chat template smuggled in through chat_template_kwargs is refused too', async () => {
    const body = { model: 'gpt-4', messages: user, chat_template_kwargs: { chat_template: '{% for i in range(99999) %}x{% endfor %}' } };
    const error = await errorOf(await gateway.call(key, '/v1/chat/completions', body));
    expect(error).toMatchObject({ status: 400, code: 'uncountable_input', param: 'chat_template_kwargs.chat_template' });
    expect(backend.received).toHaveLength(0);
  });
});
