import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Deterministic test/bench corpora, no network: English and code come from text that ships
 * in node_modules, Chinese is generated from a seeded PRNG over common characters.
 */

const NODE_MODULES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'node_modules');
export const CORPUS_BYTES = 100 * 1024;

/** Small seeded PRNG (mulberry32): same corpus on every run and machine. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function packageFile(pkg: string, file: string): string {
  return readFileSync(join(NODE_MODULES, pkg, file), 'utf8');
}

/** Cuts at the first line end after `bytes` UTF-8 bytes. */
function takeBytes(text: string, bytes: number): string {
  const buffer = Buffer.from(text, 'utf8');
  if (buffer.length <= bytes) return text;
  const cut = buffer.indexOf(0x0a, bytes);
  return buffer.subarray(0, cut < 0 ? buffer.length : cut + 1).toString('utf8');
}

/** Docs prose with some inline code: postgres.js's README and the OpenAI SDK's changelog. */
export function englishCorpus(bytes = CORPUS_BYTES): string {
  const text = `${packageFile('postgres', 'README.md')}\n${packageFile('openai', 'CHANGELOG.md')}`;
  return takeBytes(text, bytes);
}

/** TypeScript source with doc comments: the standard library declarations. */
export function codeCorpus(bytes = CORPUS_BYTES): string {
  return takeBytes(packageFile('typescript', 'lib/lib.es5.d.ts'), bytes);
}

// Common Chinese characters, most frequent first (sampled with a Zipf-like skew below).
const COMMON_HANZI =
  '的一是不了人我在有他这个们中来上大为和国地到以说时要就出也得里后自子会着年生能而看之于下过道家对学可她那手发还用心十成只如事把' +
  '想开作多没经么去方同现当动面起高己定实行小本天情意法然样主长点新从两些都好进日部加它其明全机分问正所因外理前最公无被水化体' +
  '力工制使电相性月知头重信度给员应间民回让位提业门老做等代气战表关条见政者将向变通军路社此内常北海已活山又结很风各解东教果' +
  '儿文命平原走何次安色书西期口今真数感少条件听系统设计数据模型服务用户请求返回错误价格预算计费网关令牌上下文窗口流式响应';
const PUNCTUATION = '，，，。。、；：？！“”（）';

/** Chinese prose: clauses of 4–24 characters between full-width punctuation, paragraphs. */
export function chineseCorpus(bytes = CORPUS_BYTES, seed = 7): string {
  const random = seededRandom(seed);
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    let clause = '';
    const length = 4 + Math.floor(random() * 21);
    for (let i = 0; i < length; i++) clause += COMMON_HANZI[Math.floor(COMMON_HANZI.length * random() ** 2)];
    clause += PUNCTUATION[Math.floor(random() * PUNCTUATION.length)];
    if (random() < 0.06) clause += '\n\n';
    parts.push(clause);
    size += Buffer.byteLength(clause);
  }
  return parts.join('');
}

/** The degenerate inputs that are quadratic in the known tokenizers, each `bytes` of UTF-8. */
export function degenerateInputs(bytes: number): { name: string; text: string }[] {
  const random = seededRandom(bytes);
  let cjk = '';
  // Common hanzi are 3 bytes each in UTF-8.
  while (cjk.length < Math.floor(bytes / 3)) cjk += COMMON_HANZI[Math.floor(random() * COMMON_HANZI.length)];
  return [
    { name: "run of 'a'", text: 'a'.repeat(bytes) },
    { name: 'run of spaces', text: ' '.repeat(bytes) },
    { name: 'CJK run, no punctuation', text: cjk },
  ];
}

/** Random code points (all planes, lone surrogates included) as a JS string. */
export function randomUnicode(codePoints: number, seed = 3): string {
  const random = seededRandom(seed);
  let text = '';
  for (let i = 0; i < codePoints; i++) {
    const roll = random();
    const cp = roll < 0.5 ? Math.floor(random() * 0x3000) : roll < 0.9 ? Math.floor(random() * 0x10000) : Math.floor(random() * 0x110000);
    text += cp >= 0xd800 && cp <= 0xdfff ? String.fromCharCode(cp) : String.fromCodePoint(cp);
  }
  return text;
}

/** Random bytes decoded as UTF-8 with replacement characters, as a lenient server would. */
export function randomBytesAsText(bytes: number, seed = 5): string {
  const random = seededRandom(seed);
  const buffer = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) buffer[i] = Math.floor(random() * 256);
  return new TextDecoder('utf-8').decode(buffer);
}
