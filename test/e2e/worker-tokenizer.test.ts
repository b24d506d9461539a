// The tokenizer as the Worker build ships it: wrangler.toml's [build] generates the rank tables,
// its [alias] swaps each bundled encoding's module for its binary layout (a Data module), and
// workerd runs the result. Ids must still be tiktoken's, id for id, and encodings load lazily.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { chineseCorpus, codeCorpus, degenerateInputs, englishCorpus, randomUnicode } from '../../bench/lib/corpora';
import { bundleWorker, removeBundle, startWorkerd, type WorkerBundle, type Workerd } from '../../bench/lib/workerd';
import { describeBundle, measureWorkerBundle } from '../../scripts/worker-bundle-size';
import { referenceIds } from '../unit/tokenize/reference';

const TEXTS = [
  englishCorpus(20 * 1024),
  codeCorpus(20 * 1024),
  chineseCorpus(20 * 1024),
  randomUnicode(5000, 7), // lone surrogates included
  ...degenerateInputs(1000).map(({ text }) => text),
  'a \u0085b \ufeff<|endoftext|> x\r\n\r\n  y',
];

let bundle: WorkerBundle;
let workerd: Workerd;

beforeAll(async () => {
  bundle = await bundleWorker(process.cwd(), 'bench/lib/tokenizer-worker.ts');
  workerd = await startWorkerd(bundle, { compatibilityFlags: ['nodejs_compat', 'enable_request_signal'] });
}, 90_000);

afterAll(async () => {
  await workerd?.stop();
  if (bundle) removeBundle(bundle);
});

async function encode(encoding: string, texts: string[]): Promise<{ status: number; ids?: number[][]; loaded?: string[]; error?: string }> {
  const response = await fetch(`${workerd.url}/encode?encoding=${encoding}`, { method: 'POST', body: JSON.stringify({ texts }) });
  if (!response.ok) return { status: response.status, error: await response.text() };
  return { status: response.status, ...((await response.json()) as { ids: number[][]; loaded: string[] }) };
}

describe('the Worker build carries the rank tables as Data modules', () => {
  test('the gateway bundle: cl100k_base and o200k_base as binary layouts, and no table module left to read a file', async () => {
    const gateway = await measureWorkerBundle();
    console.log(describeBundle(gateway));
    expect(gateway.encodings.sort()).toEqual(['cl100k_base', 'o200k_base']);
    expect(gateway.tableBytes).toBeGreaterThan(2_000_000);
  }, 60_000);

  test('this bundle has them as separate modules beside the script', () => {
    expect(
      bundle.modules
        .filter((file) => file.endsWith('.bin'))
        .map((file) => file.replace(/^\w+-/, ''))
        .sort(),
    ).toEqual(['cl100k_base.bin', 'o200k_base.bin']);
  });
});

describe('in workerd', () => {
  test('encodings load lazily, one when first used', async () => {
    const first = await encode('cl100k_base', ['hello world']);
    expect(first).toMatchObject({ status: 200, ids: [[15339, 1917]], loaded: ['cl100k_base'] });
    const second = await encode('o200k_base', ['hello world']);
    expect(second).toMatchObject({ status: 200, ids: [[24912, 2375]], loaded: ['cl100k_base', 'o200k_base'] });
  });

  test.each(['cl100k_base', 'o200k_base'])('%s: ids identical to tiktoken on corpora, random and degenerate text', async (encoding) => {
    const { status, ids } = await encode(encoding, TEXTS);
    expect(status).toBe(200);
    expect(ids).toEqual(TEXTS.map((text) => referenceIds(encoding as 'cl100k_base', text)));
  });

  test('an encoding left out of the bundle fails with the way to bundle it', async () => {
    const { status, error } = await encode('p50k_base', ['hello']);
    expect(status).toBe(500);
    expect(error).toMatch(/cannot load the p50k_base rank table.*left out of this Worker bundle.*\[alias\] in wrangler\.toml/);
  });
});
