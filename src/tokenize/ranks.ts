import type { EncodingName } from '../config';
import type { PieceScanner } from './split-common';
import { scanCl100kPiece, scanGpt2Piece, scanO200kPiece } from './split-patterns';

/**
 * An encoding's tokens. A rank is also the token's id. Keys are "byte strings" (one char per
 * byte, U+0000–U+00FF), so an ASCII piece of text is already its own key.
 */
export interface EncodingTables {
  readonly name: EncodingName;
  /** byte string → rank, every token. */
  readonly byteRanks: Map<string, number>;
  /** text → rank for the non-ASCII tokens that are whole UTF-8 text: pieces skip conversion. */
  readonly textRanks: Map<string, number>;
  /** rank → byte string (the same string objects as byteRanks' keys). */
  readonly tokenBytes: readonly string[];
  /** byte value → rank of the single-byte token. */
  readonly byteIds: Int32Array;
  readonly scanPiece: PieceScanner;
  /** Rough heap footprint of the maps and arrays, for tokenizerStats(). */
  readonly approxBytes: number;
}

/** js-tiktoken's rank files: `pat_str`, `special_tokens` and base64 tokens with offsets. */
interface RankFile {
  pat_str: string;
  bpe_ranks: string;
}

// Dynamic imports, one per encoding, so a bundler splits them and only used ones load.
const RANK_FILES: Record<EncodingName, () => Promise<{ default: RankFile }>> = {
  cl100k_base: () => import('js-tiktoken/ranks/cl100k_base'),
  o200k_base: () => import('js-tiktoken/ranks/o200k_base'),
  p50k_base: () => import('js-tiktoken/ranks/p50k_base'),
  p50k_edit: () => import('js-tiktoken/ranks/p50k_edit'),
  r50k_base: () => import('js-tiktoken/ranks/r50k_base'),
  gpt2: () => import('js-tiktoken/ranks/gpt2'),
};

// Our scanners implement the Rust-side patterns; each js-tiktoken pat_str is mapped to the one it
// stands for, and an unknown pattern fails loudly rather than splitting differently.
const SCANNERS: Record<EncodingName, PieceScanner> = {
  cl100k_base: scanCl100kPiece,
  o200k_base: scanO200kPiece,
  p50k_base: scanGpt2Piece,
  p50k_edit: scanGpt2Piece,
  r50k_base: scanGpt2Piece,
  gpt2: scanGpt2Piece,
};
const PATTERN_HEADS: Record<EncodingName, string> = {
  cl100k_base: "('s|'S|'t|'T|'re|",
  o200k_base: '[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}',
  p50k_base: "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+",
  p50k_edit: "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+",
  r50k_base: "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+",
  gpt2: "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+",
};

export async function loadEncodingTables(name: EncodingName): Promise<EncodingTables> {
  const { default: file } = await RANK_FILES[name]();
  if (!file.pat_str.startsWith(PATTERN_HEADS[name])) {
    throw new Error(`tokenize: unexpected split pattern for ${name}`);
  }
  const { byteRanks, tokenBytes, keyChars } = parseRanks(file.bpe_ranks);
  const textRanks = new Map<string, number>();
  let textChars = 0;
  for (const [bytes, rank] of byteRanks) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII test, control bytes included
    if (/^[\x00-\x7f]*$/.test(bytes)) continue;
    const text = decodeUtf8(bytes);
    if (text === undefined) continue;
    textRanks.set(text, rank);
    textChars += text.length * 2;
  }
  const byteIds = new Int32Array(256);
  for (let b = 0; b < 256; b++) byteIds[b] = byteRanks.get(String.fromCharCode(b)) ?? -1;
  if (byteIds.includes(-1)) throw new Error(`tokenize: ${name} lacks a single-byte token`);
  // Per entry: a key string (~16 B header + chars), a Map slot (~3 words), an array slot.
  const approxBytes = keyChars + byteRanks.size * (16 + 24 + 8) + textChars + textRanks.size * (16 + 24);
  return { name, byteRanks, textRanks, tokenBytes, byteIds, scanPiece: SCANNERS[name], approxBytes };
}

/** Strict UTF-8 decode of a byte string; undefined unless it is whole, valid UTF-8 (no overlongs, no surrogates). */
export function decodeUtf8(bytes: string): string | undefined {
  let text = '';
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes.charCodeAt(i);
    if (lead < 0x80) {
      text += bytes[i++];
      continue;
    }
    const extra = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : lead >= 0xc0 ? 1 : 0;
    if (extra === 0 || lead > 0xf4 || i + extra >= bytes.length) return undefined;
    const min = extra === 1 ? 0x80 : extra === 2 ? 0x800 : 0x10000;
    let cp = lead & (0x3f >> extra);
    for (let k = 1; k <= extra; k++) {
      const next = bytes.charCodeAt(i + k);
      if ((next & 0xc0) !== 0x80) return undefined;
      cp = (cp << 6) | (next & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined;
    text += String.fromCodePoint(cp);
    i += extra + 1;
  }
  return text;
}

/** Lines are `<marker> <first rank> <base64 token> <base64 token> …`, ranks consecutive. */
function parseRanks(bpeRanks: string) {
  const byteRanks = new Map<string, number>();
  const tokenBytes: string[] = [];
  let keyChars = 0;
  for (const line of bpeRanks.split('\n')) {
    if (line === '') continue;
    const fields = line.split(' ');
    let rank = Number.parseInt(fields[1]!, 10);
    for (let i = 2; i < fields.length; i++) {
      // atob yields exactly the byte string we key on, and exists on Node and Workers alike.
      const bytes = atob(fields[i]!);
      byteRanks.set(bytes, rank);
      tokenBytes[rank++] = bytes;
      keyChars += bytes.length;
    }
  }
  return { byteRanks, tokenBytes, keyChars };
}
