import { describe, expect, test } from 'vitest';
import { ENCODINGS, encodeRankTable, readRankTableFile } from '../../../scripts/rank-tables.mjs';
import type { EncodingName } from '../../../src/config';
import { loadCounter } from '../../../src/tokenize/counter';
import { NO_RANK } from '../../../src/tokenize/pair-ranks';
import { loadEncodingTables, readRankTable, tokenByteString } from '../../../src/tokenize/ranks';

// The precomputed layout (scripts/rank-tables.mjs) against its source, js-tiktoken's rank files,
// read here independently: every token, every id, every way a token splits into two.

interface RankFile {
  pat_str: string;
  bpe_ranks: string;
}

async function jsTiktokenRanks(encoding: string): Promise<{ file: RankFile; tokens: Map<number, string> }> {
  const { default: file } = (await import(`js-tiktoken/ranks/${encoding}`)) as { default: RankFile };
  const tokens = new Map<number, string>();
  for (const line of file.bpe_ranks.split('\n')) {
    if (line === '') continue;
    const [, first, ...encoded] = line.split(' ');
    for (const [offset, token] of encoded.entries()) tokens.set(Number(first) + offset, atob(token));
  }
  return { file, tokens };
}

const byteArray = (bytes: string) => Int32Array.from(bytes, (char) => char.charCodeAt(0));

describe.each(ENCODINGS as EncodingName[])('%s rank table', (encoding) => {
  test('holds exactly js-tiktoken’s tokens, and every id round-trips through the index', async () => {
    const { tokens } = await jsTiktokenRanks(encoding);
    const { engine } = await loadCounter(encoding);
    const tables = engine.tables;
    expect(tables.tokenCount).toBe(tokens.size);
    expect(tables.rankCount).toBe([...tokens.keys()].reduce((most, rank) => Math.max(most, rank), 0) + 1);
    const mismatches: number[] = [];
    for (let rank = 0; rank < tables.rankCount; rank++) {
      const bytes = tokens.get(rank);
      if (bytes === undefined) {
        if (tables.lengths[rank] !== 0) mismatches.push(rank); // a rank that is no token (p50k's 50256)
        continue;
      }
      if (tokenByteString(tables, rank) !== bytes || engine.pairs.findBytes(byteArray(bytes), bytes.length) !== rank) mismatches.push(rank);
    }
    expect(mismatches).toEqual([]);
  });

  test('the generated table is the layout of js-tiktoken’s file, byte for byte, as its module loads it', async () => {
    const { file } = await jsTiktokenRanks(encoding);
    const expected = encodeRankTable(file);
    expect(Buffer.compare(readRankTableFile(encoding), expected)).toBe(0);
    const { default: loaded } = (await import(`../../../src/tokenize/tables/${encoding}.js`)) as { default: Uint8Array };
    expect(Buffer.compare(loaded, expected)).toBe(0);
  });
});

describe.each(['cl100k_base', 'o200k_base'] as const)('%s pair lookups', (encoding) => {
  // What every merge asks: is token a followed by token b one token, and which. For every token,
  // each split of its bytes into two tokens must name it; pairs that join into no token must not.
  test('every split of every token into two tokens finds that token', async () => {
    const { engine } = await loadCounter(encoding);
    const { tables, pairs } = engine;
    const idOf = (bytes: string) => pairs.findBytes(byteArray(bytes), bytes.length);
    const wrong: string[] = [];
    let splits = 0;
    for (let rank = 0; rank < tables.rankCount; rank++) {
      const bytes = tokenByteString(tables, rank);
      for (let k = 1; k < bytes.length; k++) {
        const left = idOf(bytes.slice(0, k));
        const right = idOf(bytes.slice(k));
        if (left < 0 || right < 0) continue;
        splits++;
        if (pairs.get(left, right) !== rank) wrong.push(`${rank} = ${left} + ${right}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(splits).toBeGreaterThan(tables.tokenCount);
  });

  test('pairs that join into no token have no rank', async () => {
    const { engine } = await loadCounter(encoding);
    const { tables, pairs } = engine;
    const idOf = (bytes: string) => pairs.findBytes(byteArray(bytes), bytes.length);
    let checked = 0;
    for (let left = 0; left < tables.rankCount; left += 193) {
      for (let right = 3; right < tables.rankCount; right += 2003) {
        const joined = tokenByteString(tables, left) + tokenByteString(tables, right);
        expect(pairs.get(left, right)).toBe(idOf(joined) < 0 ? NO_RANK : idOf(joined));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(25_000);
  });
});

describe('a layout that is not the one the engine reads', () => {
  test('is refused with the way out, not misread', async () => {
    const layout = readRankTableFile('gpt2');
    expect(readRankTable('gpt2', layout).tokenCount).toBe(50256);
    const otherVersion = Uint8Array.from(layout);
    otherVersion[4] = 99;
    expect(() => readRankTable('gpt2', otherVersion)).toThrow(/not layout v1; regenerate it with `npm run build`/);
    expect(() => readRankTable('gpt2', layout.subarray(0, layout.length - 1))).toThrow(/truncated/);
    expect(() => readRankTable('cl100k_base', layout)).toThrow(/unexpected split pattern/);
  });

  test('a table loads from its generated module alone (no js-tiktoken at run time)', async () => {
    const tables = await loadEncodingTables('r50k_base');
    expect(tables.name).toBe('r50k_base');
    expect(tokenByteString(tables, 31373)).toBe('hello');
  });
});
