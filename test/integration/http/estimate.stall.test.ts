import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openStore } from '../../../src/store/open';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { startTestGateway, type TestGateway, testConfig } from '../../support/gateway';

// Degenerate inputs (one character repeated) are quadratic in the known JS tokenizers. Here they
// are counted in slices that yield, so other clients' requests are answered in between.
describe('a huge degenerate prompt does not stall other clients', () => {
  let backend: FakeVllm;
  let gateway: TestGateway;
  let key: string;

  beforeAll(async () => {
    backend = await startFakeVllm();
    gateway = await startTestGateway({ store: await openStore({ dataDir: 'memory://' }), config: testConfig(backend.url) });
    key = (await gateway.createKey()).key;
  });
  afterAll(async () => {
    await gateway?.stop();
    await gateway?.store.close();
    await backend?.close();
  });

  test.each([
    ['a run of one letter', 'a'],
    ['a run of spaces', ' '],
    ['a CJK run without punctuation', '的'],
  ])('%s, 100 KB at a time, while small requests keep being answered', async (_name, unit) => {
    const big = unit.repeat(Math.floor(100_000 / Buffer.byteLength(unit)));
    const order: string[] = [];
    const estimate = async (i: number) => {
      const response = await fetch(`${gateway.url}/v1/estimate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}` },
        body: JSON.stringify({ model: 'gpt-4-32k', prompt: big, max_tokens: 1 }),
      });
      const answer = (await response.json()) as { promptTokens: number };
      order.push(`big ${i}`);
      return answer.promptTokens;
    };
    const small = async (i: number) => {
      const response = await fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
      expect(response.status).toBe(200);
      order.push(`small ${i}`);
    };
    // Ten large counts queued at once would take the loop for a long while if any of them held it.
    const bigOnes = Promise.all(Array.from({ length: 10 }, (_, i) => estimate(i)));
    await new Promise((resolve) => setImmediate(resolve));
    const smallOnes: Promise<void>[] = [];
    for (let i = 0; i < 5; i++) smallOnes.push(small(i));
    const counts = await bigOnes;
    await Promise.all(smallOnes);
    expect(new Set(counts).size).toBe(1);
    expect(counts[0]).toBeGreaterThan(100);
    // Every small request was answered before the last large count finished.
    const lastBigIndex = Math.max(...order.map((entry, i) => (entry.startsWith('big') ? i : -1)));
    for (let i = 0; i < 5; i++) expect(order.indexOf(`small ${i}`)).toBeLessThan(lastBigIndex);
  });
});
