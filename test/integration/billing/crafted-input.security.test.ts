import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sha256Hex } from '../../../src/auth';
import { buildTestApp, type TestApp } from '../../support/app';
import { testConfig } from '../../support/gateway';
import { databases } from '../support/databases';
import { errorOf } from './ledger-view';

// Finding 10: crafted input answered 500. A `model` named `__proto__`, `constructor` or
// `toString` was looked up on the config's prototype; 5,000-deep nested objects overflowed the
// stack (on /v1/estimate too); a tool name that is an object crashed the counter; an operator
// budget of "999999999999", a price of "999999999999999" and a key name with a NUL byte failed
// in the database, and those internal-error log lines carried the SQL parameters (key hashes).
// Driven with app.request: none of this needs a backend (the configured one does not listen).

const NO_BACKEND = 'http://127.0.0.1:9/v1';
const user = [{ role: 'user', content: 'hi' }];
/** `depth` levels of objects, as text (JSON.stringify of such a value would overflow our own stack). */
const nestedObjects = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
const nestedArrays = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

describe.each(databases)('crafted input gets a 4xx, never a 500, on $name', (database) => {
  let gateway: TestApp;
  let key: string;

  beforeAll(async () => {
    gateway = await buildTestApp({ store: await database.open(), config: testConfig(NO_BACKEND) });
    key = (await gateway.createKey({ name: 'crafty' })).key;
  });
  afterAll(async () => {
    await gateway?.flush();
    await gateway?.store.close();
  });

  const internalErrors = () => gateway.logs.filter((line) => line.includes('internal error'));

  test.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'])(
    "a model named '%s' does not exist: 404 model_not_found on every route",
    async (model) => {
      for (const [path, body] of [
        ['/v1/chat/completions', { model, messages: user }],
        ['/v1/completions', { model, prompt: 'hi' }],
        ['/v1/embeddings', { model, input: 'hi' }],
        ['/v1/estimate', { model, messages: user }],
      ] as const) {
        expect(await errorOf(await gateway.call(key, path, body)), path).toMatchObject({
          status: 404,
          code: 'model_not_found',
          param: 'model',
        });
      }
      const price = await gateway.admin('PUT', `/admin/models/${model}/price`, { prompt: '0.01', completion: '0.01' });
      expect(price.status).toBe(404);
      expect(internalErrors()).toEqual([]);
    },
  );

  test.each([
    [
      '5,000-deep objects in a message',
      (depth: string) => `{"model":"gpt-4","messages":[{"role":"user","content":"hi","meta":${depth}}]}`,
      nestedObjects(5000),
    ],
    [
      '5,000-deep arrays in a tool schema',
      (depth: string) =>
        `{"model":"gpt-4","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":${depth}}}]}`,
      nestedArrays(5000),
    ],
    ['100,000-deep arrays as the prompt', (depth: string) => `{"model":"gpt-4","prompt":${depth}}`, nestedArrays(100_000)],
    [
      '65 levels, one past the limit',
      (depth: string) => `{"model":"gpt-4","messages":[{"role":"user","content":"hi","meta":${depth}}]}`,
      nestedObjects(62),
    ],
  ])('%s: 400 before anything walks it, on the route and on /v1/estimate', async (_name, wrap, depth) => {
    const body = wrap(depth);
    const route = body.includes('"prompt"') ? '/v1/completions' : '/v1/chat/completions';
    for (const path of [route, '/v1/estimate']) {
      const error = await errorOf(await gateway.call(key, path, body));
      expect(error.status, path).toBe(400);
      expect(error.message, path).toMatch(/deeper than 64 levels|not a list/);
    }
    expect(internalErrors()).toEqual([]);
  });

  test('64 levels is still a request', async () => {
    const body = `{"model":"gpt-4","messages":[{"role":"user","content":"hi","meta":${nestedObjects(61)}}]}`;
    const estimate = await gateway.call(key, '/v1/estimate', body);
    expect(estimate.status).toBe(200);
  });

  test.each([
    ['a tool name that is an object', { messages: user, tools: [{ type: 'function', function: { name: { $gt: '' } } }] }, 'tools[0]'],
    ['a tool without a function', { messages: user, tools: [{ type: 'function' }] }, 'tools[0]'],
    ['a function name that is a number', { messages: user, functions: [{ name: 5 }] }, 'functions[0]'],
    ['tools that are an object', { messages: user, tools: { length: 1e9 } }, 'tools'],
    ['documents that are a string', { messages: user, documents: 'x' }, 'documents'],
    ['a role that is an object', { messages: [{ role: { toString: 1 }, content: 'x' }] }, 'messages[0]'],
    ['content that is an object', { messages: [{ role: 'user', content: { text: 'x' } }] }, 'messages[0].content'],
    [
      'an image part with a number for its url',
      { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: 5 }] }] },
      'messages[0].content[0].image_url',
    ],
    ['max_tokens past a safe integer', { messages: user, max_tokens: 1e20 }, 'max_tokens'],
    ['n past 128', { messages: user, n: 129 }, 'n'],
    ['stream_options that are a string', { messages: user, stream: true, stream_options: 'yes' }, 'stream_options'],
    ['a user that is an object', { messages: user, user: { id: 1 } }, 'user'],
    ['a user with a NUL byte', { messages: user, user: 'a\u0000b' }, 'user'],
    ['a model with a NUL byte', { model: 'gpt-4\u0000', messages: user }, 'model'],
  ])('%s: 400 naming the field', async (_name, fields, param) => {
    const error = await errorOf(await gateway.call(key, '/v1/chat/completions', { model: 'gpt-4', ...fields }));
    expect(error).toMatchObject({ status: 400, param });
    expect(internalErrors()).toEqual([]);
  });

  test.each([
    ['a negative token id', { prompt: [[-1]] }],
    ['a fractional token id', { prompt: [[1.5]] }],
    ['an empty token-id list', { prompt: [[]] }],
    ['a suffix that is a number', { prompt: 'x', suffix: 5 }],
    [
      'a batch of 2,000 prompts × 128 choices × 1,000 tokens',
      { prompt: Array.from({ length: 2000 }, () => 'x'), n: 128, max_tokens: 1000 },
    ],
    ['max_tokens of a whole safe integer', { prompt: 'x', max_tokens: Number.MAX_SAFE_INTEGER }],
  ])('completions with %s: 400', async (_name, fields) => {
    const response = await gateway.call(key, '/v1/completions', { model: 'gpt-4', ...fields });
    expect(response.status).toBe(400);
    expect(internalErrors()).toEqual([]);
  });

  test.each([
    ['a budget of 999999999999', 'PUT', 'budget', { limit: '999999999999', period: 'month' }, 'limit'],
    ['a budget just past $1,000,000', 'PUT', 'budget', { limit: '1000000.000001', period: 'month' }, 'limit'],
    ['a token budget past a safe integer', 'PUT', 'budget', { limitTokens: 1e20, period: 'month' }, 'limitTokens'],
    ['a zone named __proto__', 'PUT', 'budget', { limit: '1', period: 'month', timezone: '__proto__' }, 'timezone'],
  ])('operator: %s is a 400', async (_name, method, what, body, param) => {
    const { id } = await gateway.createKey({ name: 'budgeted' });
    const error = await errorOf(await gateway.admin(method, `/admin/keys/${id}/${what}`, body));
    expect(error).toMatchObject({ status: 400, param });
    expect(internalErrors()).toEqual([]);
  });

  test('operator: the largest budget ($1,000,000) is accepted', async () => {
    const { id } = await gateway.createKey({ name: 'rich' });
    expect((await gateway.admin('PUT', `/admin/keys/${id}/budget`, { limit: '1000000', period: 'month' })).status).toBe(200);
  });

  test.each([
    ['999999999999999', 400],
    ['10.000000001', 400],
    ['10', 201],
  ])('operator: a price of %s per 1k answers %i', async (price, status) => {
    const response = await gateway.admin('PUT', '/admin/models/gpt-4-32k/price', {
      prompt: price,
      completion: '0.12',
      effectiveFrom: '2100-01-01T00:00:00Z',
    });
    expect(response.status).toBe(status);
    if (status === 400) expect((await errorOf(response)).param).toBe('prompt');
    expect(internalErrors()).toEqual([]);
  });

  test.each([
    ['a NUL byte', 'app\u0000name'],
    ['a bell', 'app\u0007'],
    ['a C1 control', 'app\u0085'],
    ['201 characters', 'x'.repeat(201)],
    ['only spaces', '   '],
  ])('operator: a key name with %s is a 400', async (_name, name) => {
    const error = await errorOf(await gateway.admin('POST', '/admin/keys', { name }));
    expect(error).toMatchObject({ status: 400, param: 'name' });
    const renamed = await gateway.createKey({ name: 'fine' });
    expect((await errorOf(await gateway.admin('PATCH', `/admin/keys/${renamed.id}`, { name }))).status).toBe(400);
    expect(internalErrors()).toEqual([]);
  });
});

describe.each(databases)('an internal error on $name', (database) => {
  test("is logged without the statement's parameters: no key hash, no secret; the client sees a plain 500", async () => {
    const gateway = await buildTestApp({ store: await database.open(), config: testConfig(NO_BACKEND) });
    try {
      const { key } = await gateway.createKey({ name: 'never used' });
      // A broken schema: the key lookup's statement fails (not an outage, so not a 503).
      await gateway.store.rows(sql`ALTER TABLE api_keys RENAME COLUMN name TO name_gone`);
      const response = await gateway.call(key, '/v1/chat/completions', { model: 'gpt-4', messages: user });
      expect(await errorOf(response)).toMatchObject({ status: 500, code: 'internal_error', message: 'Internal gateway error' });
      const logged = gateway.logs.filter((line) => line.includes('internal error'));
      expect(logged).toHaveLength(1);
      expect(logged[0]).not.toContain(sha256Hex(key));
      expect(logged[0]).not.toContain(key);
      expect(logged[0]).not.toMatch(/params:|Failed query/);
    } finally {
      await gateway.flush();
      await gateway.store.close();
    }
  });
});
