import type { EncodingName } from '../config';
import type { PieceScanner } from './split-common';
import { scanCl100kPiece, scanGpt2Piece, scanO200kPiece } from './split-patterns';

/**
 * An encoding's tokens, used as loaded: the layout scripts/rank-tables.mjs precomputes from
 * js-tiktoken's rank files keeps every token's bytes in one array, in rank order (a rank is
 * also the token's id). Loading decodes no token and builds no Map: it checks the header and
 * sums the lengths into `starts`; the lookup index is built over it by PairRanks.
 */
export interface EncodingTables {
  readonly name: EncodingName;
  /** Ranks are 0..rankCount-1; a rank that is no token (p50k's 50256) has length 0. */
  readonly rankCount: number;
  /** Ranks that are tokens. */
  readonly tokenCount: number;
  /** Every token's bytes, in rank order (a view into the loaded layout). */
  readonly bytes: Uint8Array;
  /** Rank → its length in bytes (a view into the loaded layout). */
  readonly lengths: Uint8Array;
  /** Rank → where its bytes start in `bytes`; rankCount + 1 entries, the last one bytes.length. */
  readonly starts: Int32Array;
  /** byte value → rank of the single-byte token. */
  readonly byteIds: Int32Array;
  readonly scanPiece: PieceScanner;
  /** Bytes of the layout and the arrays above, for tokenizerStats(). */
  readonly approxBytes: number;
}

/** What a generated table module exports: the layout's bytes, read from its file (Node) or the Worker's Data module. */
type TableModule = { default: Uint8Array | Promise<ArrayBuffer> };

// Dynamic imports, one per encoding, so a bundler splits them and only used ones load. The
// modules are generated (scripts/rank-tables.mjs); the Worker build swaps each for its Data module.
const TABLE_MODULES: Record<EncodingName, () => Promise<TableModule>> = {
  cl100k_base: () => import('./tables/cl100k_base.js'),
  o200k_base: () => import('./tables/o200k_base.js'),
  p50k_base: () => import('./tables/p50k_base.js'),
  p50k_edit: () => import('./tables/p50k_edit.js'),
  r50k_base: () => import('./tables/r50k_base.js'),
  gpt2: () => import('./tables/gpt2.js'),
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

/** Header of the layout; must match scripts/rank-tables.mjs. */
const MAGIC = 0x54524754;
const VERSION = 1;
const HEADER_BYTES = 20;

/**
 * The tables of one encoding, from its generated module.
 * @example const tables = await loadEncodingTables('cl100k_base'); tables.tokenCount // 100256
 */
export async function loadEncodingTables(name: EncodingName): Promise<EncodingTables> {
  let table: Uint8Array | ArrayBuffer;
  try {
    table = await (await TABLE_MODULES[name]()).default;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`tokenize: cannot load the ${name} rank table (\`npm run build\` generates them): ${reason}`, { cause: error });
  }
  return readRankTable(name, table instanceof Uint8Array ? table : new Uint8Array(table));
}

/**
 * Tables over a layout's bytes, which they keep (no copy).
 * @example readRankTable('gpt2', readFileSync('src/tokenize/tables/gpt2.bin')).rankCount // 50256
 */
export function readRankTable(name: EncodingName, layout: Uint8Array): EncodingTables {
  const header = new DataView(layout.buffer, layout.byteOffset, layout.byteLength);
  const word = (at: number) => header.getUint32(at, true);
  if (layout.byteLength < HEADER_BYTES || word(0) !== MAGIC || word(4) !== VERSION) {
    throw new Error(`tokenize: the ${name} rank table is not layout v${VERSION}; regenerate it with \`npm run build\``);
  }
  const [rankCount, byteCount, patternBytes] = [word(8), word(12), word(16)];
  const lengthsAt = HEADER_BYTES + patternBytes;
  if (layout.byteLength !== lengthsAt + rankCount + byteCount) throw new Error(`tokenize: the ${name} rank table is truncated`);
  const pattern = new TextDecoder().decode(layout.subarray(HEADER_BYTES, lengthsAt));
  if (!pattern.startsWith(PATTERN_HEADS[name])) throw new Error(`tokenize: unexpected split pattern for ${name}`);
  const lengths = layout.subarray(lengthsAt, lengthsAt + rankCount);
  const bytes = layout.subarray(lengthsAt + rankCount);
  const starts = new Int32Array(rankCount + 1);
  const byteIds = new Int32Array(256).fill(-1);
  let at = 0;
  let tokenCount = 0;
  for (let rank = 0; rank < rankCount; rank++) {
    starts[rank] = at;
    const length = lengths[rank]!;
    if (length === 1) byteIds[bytes[at]!] = rank;
    if (length > 0) tokenCount++;
    at += length;
  }
  starts[rankCount] = at;
  if (at !== byteCount) throw new Error(`tokenize: the ${name} rank table's lengths do not add up`);
  if (byteIds.includes(-1)) throw new Error(`tokenize: ${name} lacks a single-byte token`);
  const approxBytes = layout.byteLength + starts.byteLength + byteIds.byteLength;
  return { name, rankCount, tokenCount, bytes, lengths, starts, byteIds, scanPiece: SCANNERS[name], approxBytes };
}

/**
 * A token's bytes as a byte string (one char per byte, U+0000–U+00FF), for decoding and tests.
 * @example tokenByteString(tables, 15339) // 'hello' in cl100k_base
 */
export function tokenByteString(tables: EncodingTables, rank: number): string {
  return String.fromCharCode(...tables.bytes.subarray(tables.starts[rank], tables.starts[rank + 1]));
}
