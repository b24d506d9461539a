import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { openStore } from '../../../src/store/open';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { startTestGateway, type TestGateway, testConfig } from '../../support/gateway';

let backend: FakeVllm;
let gateway: TestGateway;
let key: string;

beforeAll(async () => {
  backend = await startFakeVllm();
  const store = await openStore({ dataDir: 'memory://' });
  const config = testConfig(backend.url, (input) => {
    input.backends['gpu-a'].timeoutMs = 1_000;
    input.backends.down = { url: 'http://127.0.0.1:9/v1' };
    input.models.offline = { backend: 'down', contextWindow: 4096, pricePer1k: { prompt: '0.001', completion: '0.002' } };
    input.gateway = { maxBodyBytes: 64 * 1024 };
  });
  gateway = await startTestGateway({ store, config });
  key = (await gateway.createKey()).key;
});

afterAll(async () => {
  await gateway?.stop();
  await gateway?.store.close();
  await backend?.close();
});

beforeEach(() => backend.reset());

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${gateway.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body,
  });

async function errorOf(response: Response) {
  const body = (await response.json()) as { error: { message: string; type: string; param: string | null; code: string | null } };
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  return { status: response.status, ...body.error };
}

describe('bad input gets a clear OpenAI-shaped error', () => {
  test.each([
    ['not JSON', '{"model":', 400, 'invalid_json', null],
    ['not an object', '[1,2]', 400, null, null],
    ['no model', '{"messages":[{"role":"user","content":"x"}]}', 400, 'missing_required_parameter', 'model'],
    ['model of wrong type', '{"model":5,"messages":[]}', 400, 'invalid_type', 'model'],
    ['no messages', '{"model":"gpt-4"}', 400, 'missing_required_parameter', 'messages'],
    ['empty messages', '{"model":"gpt-4","messages":[]}', 400, 'empty_array', 'messages'],
    ['message without role', '{"model":"gpt-4","messages":[{"content":"x"}]}', 400, 'invalid_type', 'messages[0]'],
    [
      'max_tokens a string',
      '{"model":"gpt-4","messages":[{"role":"user","content":"x"}],"max_tokens":"5"}',
      400,
      'invalid_type',
      'max_tokens',
    ],
    ['max_tokens zero', '{"model":"gpt-4","messages":[{"role":"user","content":"x"}],"max_tokens":0}', 400, 'invalid_value', 'max_tokens'],
    ['stream not boolean', '{"model":"gpt-4","messages":[{"role":"user","content":"x"}],"stream":"yes"}', 400, 'invalid_type', 'stream'],
    ['unknown model', '{"model":"gpt-5","messages":[{"role":"user","content":"x"}]}', 404, 'model_not_found', 'model'],
  ])('%s', async (_name, body, status, code, param) => {
    const error = await errorOf(await post('/v1/chat/completions', body));
    expect(error).toMatchObject({ status, code, param });
    expect(backend.received).toHaveLength(0);
  });

  test('a bad context policy header is refused', async () => {
    const error = await errorOf(
      await post('/v1/chat/completions', '{"model":"gpt-4","messages":[{"role":"user","content":"x"}]}', {
        'x-tollgate-context-policy': 'maybe',
      }),
    );
    expect(error).toMatchObject({ status: 400, param: 'x-tollgate-context-policy' });
  });

  test('a body over the limit is 413 by Content-Length, before parsing', async () => {
    const error = await errorOf(
      await post('/v1/chat/completions', `{"model":"gpt-4","messages":[{"role":"user","content":"${'x'.repeat(70 * 1024)}"}]}`),
    );
    expect(error).toMatchObject({ status: 413, code: 'request_too_large' });
  });

  test('a chunked body over the limit is 413 too', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        `${gateway.url}/v1/chat/completions`,
        { method: 'POST', headers: { authorization: `Bearer ${key}`, 'transfer-encoding': 'chunked' } },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 80; i++) req.write('x'.repeat(1024));
      req.end();
    });
    expect(status).toBe(413);
  });

  test('an unknown path is an OpenAI-shaped 404', async () => {
    const error = await errorOf(await post('/v1/nothing', '{}'));
    expect(error).toMatchObject({ status: 404, code: 'unknown_url' });
  });
});

describe('backend failures', () => {
  test('an unreachable backend is 502', async () => {
    const error = await errorOf(await post('/v1/chat/completions', '{"model":"offline","messages":[{"role":"user","content":"x"}]}'));
    expect(error).toMatchObject({ status: 502, code: 'upstream_unreachable' });
  });

  test('a backend past its deadline is 504', async () => {
    backend.behave({ fail: { kind: 'hang' } });
    const error = await errorOf(await post('/v1/chat/completions', '{"model":"gpt-4","messages":[{"role":"user","content":"x"}]}'));
    expect(error).toMatchObject({ status: 504, code: 'upstream_timeout' });
  });

  test("vLLM's context error keeps its status and words, in OpenAI's shape", async () => {
    backend.behave({ maxModelLen: 100 });
    const response = await post('/v1/chat/completions', '{"model":"gpt-4","messages":[{"role":"user","content":"x"}],"max_tokens":500}');
    const error = await errorOf(response);
    expect(error).toMatchObject({ status: 400, code: 'context_length_exceeded' });
    expect(error.message).toMatch(/maximum context length is 100 tokens/);
  });

  test('an error body already in OpenAI shape passes through untouched', async () => {
    const body = { error: { message: 'overloaded', type: 'server_error', param: null, code: 'busy' } };
    backend.behave({ fail: { status: 503, body } });
    const response = await post('/v1/chat/completions', '{"model":"gpt-4","messages":[{"role":"user","content":"x"}]}');
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual(body);
  });

  test('a JSON answer the backend breaks off halfway is 502', async () => {
    backend.behave({ fail: { kind: 'disconnect', afterChunks: 0 } });
    const error = await errorOf(await post('/v1/chat/completions', '{"model":"gpt-4","messages":[{"role":"user","content":"x"}]}'));
    expect(error).toMatchObject({ status: 502, code: 'upstream_bad_response' });
  });

  test('a stream the backend breaks off ends with an error event', async () => {
    backend.behave({ fail: { kind: 'disconnect', afterChunks: 2 } });
    const response = await post('/v1/chat/completions', '{"model":"gpt-4","messages":[{"role":"user","content":"x"}],"stream":true}');
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain('"code":"upstream_stream_broken"');
  });
});

describe('operator metrics', () => {
  test('show the loaded encoding, cache fill and the ledger queue, and only to the operator', async () => {
    const denied = await fetch(`${gateway.url}/admin/metrics`, { headers: { authorization: `Bearer ${key}` } });
    expect(denied.status).toBe(403);
    await post('/v1/chat/completions', '{"model":"gpt-4","messages":[{"role":"user","content":"count me"}],"max_tokens":2}');
    const metrics = (await (await gateway.admin('GET', '/admin/metrics')).json()) as {
      ledger: { waiting: number };
      tokenizer: { encodings: { encoding: string; approxBytes: number; pieceCache: { cap: number } }[]; messageCache: { cap: number } };
    };
    expect(metrics.ledger.waiting).toBeGreaterThanOrEqual(0);
    expect(metrics.tokenizer.encodings.map((e) => e.encoding)).toContain('cl100k_base');
    expect(metrics.tokenizer.encodings.every((e) => e.encoding !== 'o200k_base')).toBe(true);
    expect(metrics.tokenizer.encodings[0]!.approxBytes).toBeGreaterThan(0);
    expect(metrics.tokenizer.encodings[0]!.pieceCache.cap).toBeGreaterThan(0);
  });
});
