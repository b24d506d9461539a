import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { formatUsd, parseUsd } from '../../../src/pricing';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { startTestGateway, type TestGateway, testConfig } from '../../support/gateway';
import { databases } from '../support/databases';
import { errorOf, finalRow, setBudget, settledBudget } from './ledger-view';

// Finding 1 (batched prompts) and finding 5 (max_completion_tokens on /v1/completions).
// The old gateway reserved max_tokens × n for a whole batch, checked the context window against
// the batch's sum, and moved a completions cap into max_completion_tokens, which completions
// backends do not read: a $1.00 key ended at −$47.12 after one 4,000-prompt batch.

const texts = (count: number) => Array.from({ length: count }, (_, i) => `prompt number ${i}`);
const tokenIds = (count: number) => Array.from({ length: count }, () => [15339]);

interface Estimate {
  promptTokens: number;
  maxCompletionTokens: number;
  completionTokensMax: number;
  cost: { total: string };
  admitted: boolean;
}

describe.each(databases)('batched prompts on $name', (database) => {
  let backend: FakeVllm;
  let gateway: TestGateway;

  beforeAll(async () => {
    backend = await startFakeVllm();
    gateway = await startTestGateway({ store: await database.open(), config: testConfig(backend.url) });
  });
  afterAll(async () => {
    await gateway?.stop();
    await gateway?.store.close();
    await backend?.close();
  });
  beforeEach(() => backend.reset());

  const flush = () => gateway.ledger.flush(10_000);
  const post = (key: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${gateway.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  const estimate = async (key: string, body: unknown) => (await (await post(key, '/v1/estimate', body)).json()) as Estimate;

  test.each([
    ['4,000 strings', texts(4000)],
    ['4,000 token-id lists', tokenIds(4000)],
  ])(
    'a batch of %s with max_tokens 200 on a $1.00 key: its worst case is all 4,000 completions, so it is refused and nothing runs',
    async (_name, prompt) => {
      const { id, key } = await gateway.createKey({ name: 'batch' });
      await setBudget(gateway.admin, id, '1.00');
      backend.behave({ completionTokens: 200 });
      const body = { model: 'gpt-4', prompt, max_tokens: 200 };

      // What the application is told before it sends: 800,000 completion tokens, $48 and more (the old answer: $0.132).
      const quoted = await estimate(key, body);
      expect(quoted.completionTokensMax).toBe(4000 * 200);
      expect(parseUsd(quoted.cost.total)).toBeGreaterThanOrEqual(parseUsd('48'));
      expect(quoted.admitted).toBe(false);

      const response = await post(key, '/v1/completions', body, { 'x-request-id': `batch-${id}` });
      expect(await errorOf(response)).toMatchObject({ status: 429, code: 'insufficient_quota' });
      expect(backend.received).toHaveLength(0);
      expect(await settledBudget(gateway.admin, flush, id)).toMatchObject({ spent: '0', reserved: '0', remaining: '1' });
      expect(await finalRow(gateway.admin, flush, `batch-${id}`, id)).toMatchObject({ status: 'rejected', billedCost: '0' });
    },
  );

  test('a batch that fits no window: the estimate still counts every prompt’s completions in its worst case', async () => {
    const { key } = await gateway.createKey({ name: 'no window' });
    const quoted = (await (
      await post(key, '/v1/estimate', { model: 'gpt-4', prompt: [...texts(100), 'lorem '.repeat(40_000)], max_tokens: 10 })
    ).json()) as Estimate & { fits: boolean };
    expect(quoted.fits).toBe(false);
    expect(quoted.completionTokensMax).toBe(101 * 10);
    const completionCost = parseUsd((quoted as unknown as { cost: { completionMax: string } }).cost.completionMax);
    expect(completionCost).toBe((parseUsd('0.06') * 1010n) / 1000n);
  });

  test('ten batches in parallel on a $0.05 key: spend stays within $0.05 and every generated completion is billed', async () => {
    const { id, key } = await gateway.createKey({ name: 'parallel batches' });
    const limit = parseUsd('0.05');
    await setBudget(gateway.admin, id, formatUsd(limit));
    backend.behave({ completionTokens: 20 });
    const body = { model: 'gpt-4', prompt: texts(10), max_tokens: 20 };
    const worstCase = parseUsd((await estimate(key, body)).cost.total);
    const client = new OpenAI({ apiKey: key, baseURL: `${gateway.url}/v1`, maxRetries: 0 });

    const outcomes = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        try {
          const completion = await client.completions.create(body, { headers: { 'x-request-id': `parallel-${i}` } });
          return { ok: true as const, completion };
        } catch (error) {
          expect(error).toMatchObject({ status: 429, code: 'insufficient_quota' });
          return { ok: false as const };
        }
      }),
    );
    const served = outcomes.flatMap((outcome) => (outcome.ok ? [outcome.completion] : []));
    // The backend always generates the whole cap here, so each admitted batch costs its worst case.
    expect(served).toHaveLength(Number(limit / worstCase));
    for (const completion of served) {
      expect(completion.choices).toHaveLength(10);
      expect(completion.usage?.completion_tokens).toBe(10 * 20);
    }
    const budget = await settledBudget(gateway.admin, flush, id);
    expect(parseUsd(budget.spent)).toBeLessThanOrEqual(limit);
    expect(parseUsd(budget.spent)).toBe(worstCase * BigInt(served.length));
    const generated = backend.received.reduce((sum, request) => sum + request.generatedTokens, 0);
    let billedCompletion = 0;
    for (let i = 0; i < 10; i++) {
      const row = await finalRow(gateway.admin, flush, `parallel-${i}`, id);
      billedCompletion += row.completionTokens;
    }
    expect(billedCompletion).toBe(generated);
  });

  test('n and best_of multiply the reservation per prompt: every generated sequence is covered', async () => {
    const { id, key } = await gateway.createKey({ name: 'best of' });
    await setBudget(gateway.admin, id, '10');
    backend.behave({ completionTokens: 50 });
    const response = await post(
      key,
      '/v1/completions',
      { model: 'gpt-4', prompt: texts(3), n: 2, best_of: 4, max_tokens: 10 },
      { 'x-request-id': `best-of-${id}` },
    );
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { choices: unknown[] };
    expect(answer.choices).toHaveLength(3 * 2);
    const row = await finalRow(gateway.admin, flush, `best-of-${id}`, id);
    // 3 prompts × max(n, best_of) 4 × 10: what the backend can generate (old: max_tokens × n = 20).
    expect(row.maxCompletionTokens).toBe(3 * 4 * 10);
    expect(backend.received[0]!.generatedTokens).toBe(3 * 4 * 10);
    expect(row.completionTokens).toBeLessThanOrEqual(row.maxCompletionTokens!);
  });

  describe('the context window is checked per prompt, the longest one deciding', () => {
    // ~3,000 tokens each: every prompt fits the 8k window; the three together would not.
    const long = (i: number) => `${i} ${'lorem '.repeat(3000)}`;

    test('three prompts that each fit are served by the 8k model, not refused or moved to the dearer 32k one', async () => {
      const { key } = await gateway.createKey({ name: 'fits apart' });
      const response = await post(
        key,
        '/v1/completions',
        { model: 'gpt-4', prompt: [long(1), long(2), long(3)], max_tokens: 100 },
        { 'x-tollgate-context-policy': 'reject' },
      );
      expect(response.status).toBe(200);
      expect(response.headers.get('x-tollgate-routed-model')).toBeNull();
      expect(Number(response.headers.get('x-tollgate-prompt-tokens'))).toBeGreaterThan(8192);
      expect(backend.received[0]!.body.model).toBe('served-name');
    });

    test('one prompt too long for the window: 400 context_length_exceeded naming the prompt, nothing sent', async () => {
      const { key } = await gateway.createKey({ name: 'one too long' });
      const response = await post(
        key,
        '/v1/completions',
        { model: 'gpt-4', prompt: ['short', `${'lorem '.repeat(9000)}`], max_tokens: 100 },
        { 'x-tollgate-context-policy': 'reject' },
      );
      expect(await errorOf(response)).toMatchObject({ status: 400, code: 'context_length_exceeded', param: 'prompt' });
      expect(backend.received).toHaveLength(0);
    });

    test('with the route policy the batch moves to the 32k model and is reserved at its price', async () => {
      const { id, key } = await gateway.createKey({ name: 'routed batch' });
      await setBudget(gateway.admin, id, '10');
      const response = await post(
        key,
        '/v1/completions',
        { model: 'gpt-4', prompt: ['short', `${'lorem '.repeat(9000)}`], max_tokens: 100 },
        { 'x-request-id': `routed-${id}` },
      );
      expect(response.status).toBe(200);
      expect(response.headers.get('x-tollgate-routed-model')).toBe('gpt-4-32k');
      const row = await finalRow(gateway.admin, flush, `routed-${id}`, id);
      expect(row).toMatchObject({ routedModel: 'gpt-4-32k', maxCompletionTokens: 2 * 100 });
      expect(row.price).toMatchObject({ promptPer1k: '0.06', completionPer1k: '0.12' });
    });
  });

  describe('finding 5: /v1/completions backends read only max_tokens', () => {
    test.each([
      ['max_tokens', { max_tokens: 10 }],
      ['max_completion_tokens', { max_completion_tokens: 10 }],
    ])('a cap given as %s reaches the backend as max_tokens, and the application gets at most 10 tokens a choice', async (_name, cap) => {
      const { id, key } = await gateway.createKey({ name: 'completions cap' });
      await setBudget(gateway.admin, id, '10');
      backend.behave({ completionTokens: 300 });
      const response = await post(
        key,
        '/v1/completions',
        { model: 'gpt-4', prompt: 'Say a lot', n: 2, ...cap },
        { 'x-request-id': `cap-${id}` },
      );
      expect(response.status).toBe(200);
      const answer = (await response.json()) as { usage: { completion_tokens: number }; choices: { finish_reason: string }[] };
      const sent = backend.received[0]!.body;
      expect(sent.max_tokens).toBe(10);
      expect(sent).not.toHaveProperty('max_completion_tokens');
      // Old: the cap went in max_completion_tokens, the backend generated 300 a choice and 600 were billed.
      expect(backend.received[0]!.generatedTokens).toBe(2 * 10);
      expect(answer.choices.map((choice) => choice.finish_reason)).toEqual(['length', 'length']);
      expect(answer.usage.completion_tokens).toBe(2 * 10);
      const row = await finalRow(gateway.admin, flush, `cap-${id}`, id);
      expect(row).toMatchObject({ maxCompletionTokens: 2 * 10, completionTokens: 2 * 10, overReservation: false });
    });
  });
});
