import { describe, expect, test } from 'vitest';
import { chineseCorpus, degenerateInputs, seededRandom } from '../../../bench/lib/corpora';
import { countText, encodeText } from '../../../src/tokenize';
import { mergeShortPiece } from '../../../src/tokenize/bpe';
import { LongPieceMerge } from '../../../src/tokenize/bpe-long';
import { loadCounter } from '../../../src/tokenize/counter';
import { writeByteIds } from '../../../src/tokenize/utf8';
import { decodeToByteString, ours, referenceIds, utf8ByteString } from './reference';

const ENCODINGS = ['cl100k_base', 'o200k_base'] as const;
const BIG = 100 * 1024;

describe.each(ENCODINGS)('%s engine', (encoding) => {
  // The heap/bucket merge must make exactly the quadratic scan's choices.
  test('long-piece merge equals the short scan on random pieces', async () => {
    const { engine } = await loadCounter(encoding);
    const random = seededRandom(21);
    const alphabet = ['a', 'b', 'e', 'th', ' ', '中', '国', 'é', '😀', '\u0301', '1', 'ing'];
    for (let trial = 0; trial < 300; trial++) {
      let text = '';
      while (text.length < 10 + (trial % 30)) text += alphabet[Math.floor(random() * alphabet.length)];
      const bytes = new Int32Array(text.length * 3);
      const n = writeByteIds(text, 0, text.length, engine.tables.byteIds, bytes);
      const long = new LongPieceMerge(bytes.subarray(0, n), engine.pairs, engine.tables.rankCount);
      expect(long.run(Infinity)).toBe(true);
      const viaLong: number[] = [];
      long.emit(viaLong);
      const count = mergeShortPiece(bytes, n, engine.pairs);
      expect(viaLong).toEqual(Array.from(bytes.subarray(0, count)));
    }
  });

  // The reference is quadratic, so 100 KB runs are checked by structure: at 4 KB the reference
  // gives one id repeated; at 100 KB we must give the same id, repeated proportionally.
  test.each([
    ['a', 4096, BIG],
    [' ', 4096, BIG],
    ['\n', 4096, BIG],
    ['0', 4095, 4095 * 25], // digits split in threes
  ] as const)('100 KB run of %j follows the reference structure', async (char, small, big) => {
    const reference = referenceIds(encoding, char.repeat(small));
    expect(new Set(reference).size).toBe(1);
    const ids = (await ours(encoding)).encode(char.repeat(big));
    expect(ids).toEqual(new Array((reference.length * big) / small).fill(reference[0]));
  });

  test('100 KB CJK run without punctuation: lossless, sync equals sliced async', async () => {
    const counter = await ours(encoding);
    const [, , cjk] = degenerateInputs(BIG);
    const ids = counter.encode(cjk!.text);
    expect(decodeToByteString(counter, ids)).toBe(utf8ByteString(cjk!.text));
    expect(await encodeText(counter, cjk!.text)).toEqual(ids);
    expect(await countText(counter, cjk!.text)).toBe(ids.length);
  });

  test('sliced async counting yields to the event loop and interleaves safely', async () => {
    const counter = await ours(encoding);
    const texts = [chineseCorpus(200 * 1024, 1), 'z'.repeat(300_000), chineseCorpus(150 * 1024, 2)];
    let ticks = 0;
    let ticking = true;
    const tick = () => {
      ticks++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const counts = await Promise.all(texts.map((text) => countText(counter, text)));
    ticking = false;
    expect(counts).toEqual(texts.map((text) => counter.count(text)));
    expect(ticks).toBeGreaterThan(3);
  });
});
