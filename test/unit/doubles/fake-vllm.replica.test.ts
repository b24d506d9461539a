// The fake as one replica among several: overload, Retry-After, death and return, lying health,
// and generation time (what a client had received when it left).
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { chat, post as postTo, sseReader, until } from './http';

let vllm: FakeVllm;
beforeAll(async () => {
  vllm = await startFakeVllm();
});
afterEach(async () => {
  await vllm.start(); // a test may have left it stopped
  vllm.reset();
});
afterAll(() => vllm.close());

const post = (path: string, body: unknown, init: RequestInit = {}) => postTo(vllm, path, body, init);
const health = () => fetch(`${vllm.url.replace(/\/v1$/, '')}/health`);

/** A gate to hold streams open before their last token, and the function that opens it. */
function gate() {
  let open!: () => void;
  return { gate: new Promise<void>((resolve) => (open = resolve)), open: () => open() };
}

describe('overload and failures', () => {
  test.each([503, 429])('fail %i with retryAfter sets Retry-After', async (status) => {
    vllm.behave({ fail: { status, retryAfter: 7 } });
    const res = await post('/chat/completions', chat());
    expect(res.status).toBe(status);
    expect(res.headers.get('retry-after')).toBe('7');
  });

  test('maxConcurrent: requests beyond it get a vLLM-shaped 503; inFlight counts the others', async () => {
    const held = gate();
    vllm.behave({ maxConcurrent: 2, gate: held.gate });
    const streams = await Promise.all([1, 2].map(() => post('/chat/completions', chat({ stream: true }))));
    const readers = streams.map(sseReader);
    for (const reader of readers) await reader.next();
    expect(vllm.inFlight).toBe(2);
    const refused = await post('/chat/completions', chat());
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ object: 'error', type: 'ServiceUnavailableError', code: 503 });
    expect(vllm.inFlight).toBe(2);
    held.open();
    for (const reader of readers) while ((await reader.next()) !== undefined);
    await vllm.whenIdle();
    expect(vllm.inFlight).toBe(0);
    expect((await post('/chat/completions', chat())).status).toBe(200);
  });
});

describe('a replica that dies and comes back', () => {
  test('stop cuts open streams and refuses connections; start answers again on the same URL', async () => {
    const held = gate();
    vllm.behave({ gate: held.gate });
    const reader = sseReader(await post('/chat/completions', chat({ stream: true })));
    await reader.next();
    await vllm.stop();
    const drain = async () => {
      while ((await reader.next()) !== undefined); // what was already on the wire, then the cut
    };
    await expect(drain()).rejects.toThrow();
    expect(vllm.received[0]).toMatchObject({ aborted: false, completed: false });
    const refused = await post('/chat/completions', chat()).catch((err: Error) => err);
    expect((refused as Error & { cause?: { code?: string } }).cause?.code).toBe('ECONNREFUSED');
    await vllm.start();
    expect((await post('/chat/completions', chat())).status).toBe(200);
  });

  test('health: follows failures by default, lies with ok, or answers 503 while requests succeed', async () => {
    vllm.behave({ fail: { status: 500 } });
    expect((await health()).status).toBe(500);
    vllm.behave({ health: 'ok' });
    expect((await health()).status).toBe(200);
    expect((await post('/chat/completions', chat())).status).toBe(500);
    vllm.behave({ health: 'fail', fail: undefined });
    expect((await health()).status).toBe(503);
    expect((await post('/chat/completions', chat())).status).toBe(200);
  });

  test('/v1/models reports max_model_len', async () => {
    vllm.behave({ maxModelLen: 8192 });
    const models = await (await fetch(`${vllm.url}/models`)).json();
    expect(models.data[0]).toMatchObject({ id: 'fake-model', object: 'model', owned_by: 'vllm', max_model_len: 8192 });
  });
});

describe('generation time and what the client received', () => {
  test('a non-streamed answer sends its head only when generation ends', async () => {
    vllm.behave({ completionTokens: 1000, tokenMs: 5 });
    const controller = new AbortController();
    let headers = false;
    const answer = post('/chat/completions', chat(), { signal: controller.signal }).then(() => (headers = true));
    await until(() => (vllm.received[0]?.generatedTokens ?? 0) >= 3);
    expect(headers).toBe(false);
    controller.abort();
    await expect(answer).rejects.toThrow();
    await vllm.whenIdle();
    const record = vllm.received[0]!;
    expect(record).toMatchObject({ aborted: true, completed: false, sentTokens: 0 });
    expect(record.generatedTokens).toBeGreaterThanOrEqual(3);
    expect(record.generatedTokens).toBeLessThan(1000);
  });

  test('a whole answer records every token generated and sent', async () => {
    vllm.behave({ completionTokens: 4, tokenMs: 1 });
    expect((await post('/chat/completions', chat({ n: 2 }))).status).toBe(200);
    await vllm.whenIdle();
    expect(vllm.received[0]).toMatchObject({ aborted: false, completed: true, generatedTokens: 8, sentTokens: 8 });
  });

  test('a stream paced by tokenMs: a client that leaves early was sent part, and generation stopped', async () => {
    vllm.behave({ completionTokens: 1000, tokenMs: 2 });
    const controller = new AbortController();
    const reader = sseReader(await post('/chat/completions', chat({ stream: true }), { signal: controller.signal }));
    for (let i = 0; i < 4; i++) await reader.next(); // role + 3 tokens
    controller.abort();
    await vllm.whenIdle();
    const record = vllm.received[0]!;
    expect(record).toMatchObject({ aborted: true, completed: false });
    expect(record.sentTokens).toBeGreaterThanOrEqual(3);
    expect(record.generatedTokens).toBeGreaterThanOrEqual(record.sentTokens);
    expect(record.generatedTokens).toBeLessThan(1000);
  });
});
