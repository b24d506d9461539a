import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { buildTestApp, type TestApp } from '../../support/app';
import { awayFromMinuteEdge } from '../../support/clock';
import { testConfig } from '../../support/gateway';
import { databases } from '../support/databases';
import { errorOf } from './ledger-view';

// Finding 11: unmetered work. /v1/estimate and context-length refusals did not count against
// the key's rpm, so a key could make the gateway count (and a 4 MB estimate took 2.8 s of CPU)
// without end. Now each counts one request; a key refused for rpm is refused before its body is
// read until the minute ends; /v1/estimate has a body limit of its own (1 MiB by default).

const chatBody = { model: 'gpt-4', messages: [{ role: 'user', content: 'hello' }], max_tokens: 5 };
const tooLong = { model: 'gpt-4', messages: [{ role: 'user', content: 'lorem '.repeat(9000) }], max_tokens: 5 };

/** A request body that starts and never ends: answering it means the gateway did not wait to read it. */
const endlessBody = () =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"model":"gpt-4","messages":[{"role":"user","content":"'));
    },
  });

describe.each(databases)('work that reserves nothing is still metered, on $name', (database) => {
  let backend: FakeVllm;
  let gateway: TestApp;

  beforeAll(async () => {
    backend = await startFakeVllm();
    gateway = await buildTestApp({ store: await database.open(), config: testConfig(backend.url) });
  });
  afterAll(async () => {
    await gateway?.flush();
    await gateway?.store.close();
    await backend?.close();
  });
  beforeEach(async () => {
    backend.reset();
    await awayFromMinuteEdge();
  });

  async function expectRateLimited(response: Response) {
    const error = await errorOf(response);
    expect(error).toMatchObject({ status: 429, code: 'rate_limit_exceeded', type: 'rate_limit_error' });
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
  }

  /** After a refusal for rpm, every route of the key answers 429 without reading the body. */
  async function expectShutUntilTheMinuteEnds(key: string) {
    for (const path of ['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/estimate']) {
      await expectRateLimited(await gateway.call(key, path, endlessBody()));
    }
  }

  test('estimates count against rpm: the fourth of rpm 3 is refused, and so is everything else the key sends', async () => {
    const { key } = await gateway.createKey({ name: 'estimator', options: { rpm: 3 } });
    for (let i = 0; i < 3; i++) expect((await gateway.call(key, '/v1/estimate', chatBody)).status).toBe(200);
    await expectRateLimited(await gateway.call(key, '/v1/estimate', chatBody));
    await expectRateLimited(await gateway.call(key, '/v1/chat/completions', chatBody));
    await expectShutUntilTheMinuteEnds(key);
    expect(backend.received).toHaveLength(0);
  });

  test('context-length refusals count against rpm: past it they are 429, not free 400s', async () => {
    const { key } = await gateway.createKey({ name: 'too long', options: { rpm: 2, contextPolicy: 'reject' } });
    for (let i = 0; i < 2; i++) {
      expect(await errorOf(await gateway.call(key, '/v1/chat/completions', tooLong))).toMatchObject({
        status: 400,
        code: 'context_length_exceeded',
      });
    }
    await expectRateLimited(await gateway.call(key, '/v1/chat/completions', tooLong));
    await expectRateLimited(await gateway.call(key, '/v1/chat/completions', chatBody));
    await expectShutUntilTheMinuteEnds(key);
    expect(backend.received).toHaveLength(0);
  });

  test('refusals for uncountable input count against rpm too: the text before the audio part was counted', async () => {
    const { key } = await gateway.createKey({ name: 'uncountable', options: { rpm: 2 } });
    const body = {
      model: 'gpt-4',
      messages: [
        { role: 'user', content: 'lorem '.repeat(50_000) },
        { role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } }] },
      ],
    };
    for (let i = 0; i < 2; i++) {
      expect(await errorOf(await gateway.call(key, '/v1/chat/completions', body))).toMatchObject({
        status: 400,
        code: 'uncountable_input',
      });
    }
    await expectRateLimited(await gateway.call(key, '/v1/chat/completions', body));
    await expectShutUntilTheMinuteEnds(key);
    expect(backend.received).toHaveLength(0);
  });

  test('a key refused by admission for rpm is refused before its body is read, too', async () => {
    const { key } = await gateway.createKey({ name: 'chatty', options: { rpm: 2, tpm: 1_000_000 } });
    for (let i = 0; i < 2; i++) expect((await gateway.call(key, '/v1/chat/completions', chatBody)).status).toBe(200);
    await expectRateLimited(await gateway.call(key, '/v1/chat/completions', chatBody));
    await expectShutUntilTheMinuteEnds(key);
    expect(backend.received).toHaveLength(2);
  });

  test('a refusal for tokens (tpm) does not shut the key: a smaller request still passes', async () => {
    // Each request reserves its ~8 prompt tokens and its max_tokens: two of 40 fit in 120, a third does not, one of 1 does.
    const { key } = await gateway.createKey({ name: 'tokens', options: { rpm: 100, tpm: 120 } });
    for (let i = 0; i < 2; i++) expect((await gateway.call(key, '/v1/chat/completions', { ...chatBody, max_tokens: 40 })).status).toBe(200);
    await expectRateLimited(await gateway.call(key, '/v1/chat/completions', { ...chatBody, max_tokens: 40 }));
    expect((await gateway.call(key, '/v1/chat/completions', { ...chatBody, max_tokens: 1 })).status).toBe(200);
  });

  test('another key is not held back by one that is over its rpm', async () => {
    const noisy = await gateway.createKey({ name: 'noisy', options: { rpm: 1 } });
    const quiet = await gateway.createKey({ name: 'quiet', options: { rpm: 1 } });
    expect((await gateway.call(noisy.key, '/v1/estimate', chatBody)).status).toBe(200);
    await expectRateLimited(await gateway.call(noisy.key, '/v1/estimate', chatBody));
    expect((await gateway.call(quiet.key, '/v1/estimate', chatBody)).status).toBe(200);
  });

  test.each([
    ['declared by Content-Length', false],
    ['sent chunked, without a length', true],
  ])('a 2 MiB estimate is refused with 413, %s (the proxy routes still take it)', async (_name, chunked) => {
    const { key } = await gateway.createKey({ name: 'big estimate' });
    const big = JSON.stringify({ model: 'gpt-4-32k', prompt: 'x'.repeat(2 * 1024 * 1024), max_tokens: 1 });
    const bytes = new TextEncoder().encode(big);
    const body = chunked
      ? new ReadableStream<Uint8Array>({
          start(controller) {
            for (let at = 0; at < bytes.length; at += 64 * 1024) controller.enqueue(bytes.slice(at, at + 64 * 1024));
            controller.close();
          },
        })
      : big;
    expect(await errorOf(await gateway.call(key, '/v1/estimate', body))).toMatchObject({ status: 413, code: 'request_too_large' });
    // Under the 4 MiB proxy limit: counted (and refused for its length), not refused for its size.
    const proxied = await gateway.call(key, '/v1/completions', big, { 'x-tollgate-context-policy': 'reject' });
    expect(await errorOf(proxied)).toMatchObject({ status: 400, code: 'context_length_exceeded' });
  });
});
