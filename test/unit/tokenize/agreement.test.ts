import { describe, expect, test } from 'vitest';
import { chineseCorpus, codeCorpus, degenerateInputs, englishCorpus, randomBytesAsText, randomUnicode } from '../../../bench/lib/corpora';
import { jsTiktokenIds, ours, referenceIds } from './reference';

// Ids must equal tiktoken's Rust core (WASM build) token for token, for every input.
const MODERN = ['cl100k_base', 'o200k_base'] as const;
const LEGACY = ['p50k_base', 'r50k_base'] as const;

const corpora = { english: englishCorpus(), code: codeCorpus(), chinese: chineseCorpus() };

describe.each(MODERN)('%s agrees with the reference', (encoding) => {
  test.each(Object.entries(corpora))('100 KB %s corpus', async (_, text) => {
    expect((await ours(encoding)).encode(text)).toEqual(referenceIds(encoding, text));
  });

  // The reference is itself quadratic on these: a few thousand chars keeps the suite fast.
  test.each(degenerateInputs(3000).map(({ name, text }) => [name, text] as const))('degenerate: %s (3k)', async (_, text) => {
    expect((await ours(encoding)).encode(text)).toEqual(referenceIds(encoding, text));
  });

  test.each([
    ['random code points (lone surrogates included)', randomUnicode(20_000)],
    ['random bytes decoded with U+FFFD', randomBytesAsText(100 * 1024)],
  ])('%s', async (_, text) => {
    expect((await ours(encoding)).encode(text)).toEqual(referenceIds(encoding, text));
  });

  // Rust's \s is White_Space: U+0085 is whitespace and U+FEFF is not, unlike JavaScript's.
  test.each([
    'a \u0085b',
    'a \ufeffb',
    'x \u0085\u0085 y',
    '\ufeff\ufeff hello',
    'hi \u0085!',
    'end\u0085',
    '\u0085\n\nnext',
    'a\ufeff\u0085 \t\u00a0b',
    'word \ufeff, \u0085.',
    '\u3000\u0085中文',
  ])('whitespace edge %j', async (text) => {
    expect((await ours(encoding)).encode(text)).toEqual(referenceIds(encoding, text));
  });

  test.each([
    '<|endoftext|>',
    'before <|endoftext|> after',
    '<|fim_prefix|>x<|fim_middle|>y<|fim_suffix|>',
    '<|endofprompt|><|im_start|>user',
  ])('special-token text %j counts as plain text', async (text) => {
    const counter = await ours(encoding);
    expect(() => counter.encode(text)).not.toThrow();
    expect(counter.encode(text)).toEqual(referenceIds(encoding, text));
  });

  test.each([
    ['contractions in any case, long s', "I'M sure it'S they'Re we'VE you'll He'D don'ſ x'ſa"],
    ['o200k word casing', 'HTTPServer XMLHttpRequest ǅungla ʰello Ωmega ÀB\u0301c'],
    ['numbers', '1234567 ٣٤٥ ½¾ Ⅻ 3.14159'],
    ['newlines and indentation', 'a\r\n\r\n  b\n\t\tc   \n  \n d  '],
  ])('%s', async (_, text) => {
    expect((await ours(encoding)).encode(text)).toEqual(referenceIds(encoding, text));
  });
});

describe.each(LEGACY)('%s agrees with the reference on ordinary text', (encoding) => {
  test.each(Object.entries(corpora))('100 KB %s corpus', async (_, text) => {
    expect((await ours(encoding)).encode(text)).toEqual(referenceIds(encoding, text));
  });

  test.each(['a \u0085b', "it's 'Re ſ", 'x   \n\n y', randomUnicode(5000, 11)])('edge %#', async (text) => {
    expect((await ours(encoding)).encode(text)).toEqual(referenceIds(encoding, text));
  });
});

// js-tiktoken is the source of the ranks; where it agrees with the reference we must agree with it.
const MIXED = [
  ['ascii', 'The quick brown fox jumps over the lazy dog. 1234567890!@#$%^&*()'],
  ['whitespace runs', 'a  b   c    \n\n\n   d\t\t\te     '],
  ['code', 'function add(a: number, b: number): number {\n  return a + b; // sum\n}\n'],
  ['cjk', '我们今天去公园散步，天气很好。日本語のテキストも少し。한국어 문장입니다.'],
  ['emoji with zwj', 'family: 👨‍👩‍👧‍👦, flags 🇫🇷🇯🇵, skin 👍🏽, keycap 1️⃣'],
  ['combining marks', 'e\u0301le\u0300ve Z\u0351\u0352a\u0308l\u0327go\u0303 ñ'],
  ['rtl', 'مرحبا بالعالم — שלום עולם (123)'],
  ['nel', 'a \u0085b'],
  ['bom', 'a \ufeffb'],
] as const;

describe.each(MODERN)('%s versus js-tiktoken', (encoding) => {
  test.each(MIXED)('%s', async (_, text) => {
    const mine = (await ours(encoding)).encode(text);
    const reference = referenceIds(encoding, text);
    expect(mine).toEqual(reference);
    const js = await jsTiktokenIds(encoding, text);
    if (js.join() === reference.join()) expect(mine).toEqual(js);
  });

  test('js-tiktoken is the one that differs on U+0085/U+FEFF', async () => {
    const text = 'a \u0085b a \ufeffb';
    expect(await jsTiktokenIds(encoding, text)).not.toEqual(referenceIds(encoding, text));
  });
});

test('"hello world" is [15339, 1917] in cl100k_base', async () => {
  expect((await ours('cl100k_base')).encode('hello world')).toEqual([15339, 1917]);
});
