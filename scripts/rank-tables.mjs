#!/usr/bin/env node
// Precomputes each encoding's rank table in the binary layout the tokenizer loads as is
// (src/tokenize/ranks.ts reads it), from js-tiktoken's rank files.
//   node scripts/rank-tables.mjs             write src/tokenize/tables/ (`npm run build` runs this)
//   node scripts/rank-tables.mjs --if-stale  only when an output is missing or older than its inputs
// (wrangler.toml's [build] and scripts/build.mjs). The outputs are generated, not committed: ~3.6 MB
// of binary that any install of js-tiktoken reproduces byte for byte in under a second.
//
// Layout (little-endian), one file per encoding:
//   0   u32  magic 0x54524754 ("TGRT")
//   4   u32  layout version (RANK_TABLE_VERSION)
//   8   u32  rank count R (ranks 0..R-1; a rank that is no token has length 0: p50k's 50256)
//   12  u32  byte length B of all tokens together
//   16  u32  byte length P of the split pattern
//   20  P    the split pattern (js-tiktoken's pat_str), UTF-8: the loader checks its scanner against it
//   ..  R    u8 per rank: the token's length in bytes (tiktoken's longest is 128)
//   ..  B    every token's bytes, in rank order
// Per encoding, written next to each other:
//   <name>.bin        the layout
//   <name>.js         the module ranks.ts imports: on Node (and tsx, vitest, dist/tables) it reads
//                     <name>.bin as it loads, one file read, nothing to parse or decode
//   <name>.worker.js  what wrangler.toml's [alias] puts in place of <name>.js: a lazy import of
//                     <name>.bin as a Data module (the isolate gets the bytes as an ArrayBuffer)
// Plain JavaScript, like scripts/build.mjs, so the staleness check costs one node start and no transpiler.
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const TABLES_DIR = join(root, 'src/tokenize/tables');
export const ENCODINGS = ['cl100k_base', 'o200k_base', 'p50k_base', 'p50k_edit', 'r50k_base', 'gpt2'];
export const RANK_TABLE_MAGIC = 0x54524754;
/** Bump with any change to the layout; src/tokenize/ranks.ts refuses other versions. */
export const RANK_TABLE_VERSION = 1;
const HEADER_BYTES = 20;

const require = createRequire(import.meta.url);
const rankFilePath = (name) => require.resolve(`js-tiktoken/ranks/${name}`);

/**
 * The layout of one js-tiktoken rank file (`{ pat_str, bpe_ranks }`; bpe_ranks lines are
 * `<marker> <first rank> <base64 token> <base64 token> …`, ranks consecutive within a line).
 * @example encodeRankTable((await import('js-tiktoken/ranks/cl100k_base')).default).length // 744266
 */
export function encodeRankTable(file) {
  const tokens = [];
  for (const line of file.bpe_ranks.split('\n')) {
    if (line === '') continue;
    const fields = line.split(' ');
    let rank = Number.parseInt(fields[1], 10);
    for (let i = 2; i < fields.length; i++) {
      if (tokens[rank] !== undefined) throw new Error(`rank ${rank} appears twice`);
      tokens[rank++] = Buffer.from(fields[i], 'base64');
    }
  }
  const seen = new Set();
  let tokenBytes = 0;
  for (let rank = 0; rank < tokens.length; rank++) {
    const token = tokens[rank];
    if (token === undefined) continue;
    // A token's length is one byte of the layout, and the empty length marks a rank that is no token.
    if (token.length === 0 || token.length > 255) throw new Error(`rank ${rank} is ${token.length} bytes long`);
    const key = token.toString('latin1');
    // The engine's index assumes one rank per byte sequence, as tiktoken's encoder map does.
    if (seen.has(key)) throw new Error(`rank ${rank} repeats the bytes of an earlier rank`);
    seen.add(key);
    tokenBytes += token.length;
  }
  const pattern = Buffer.from(file.pat_str, 'utf8');
  const out = Buffer.alloc(HEADER_BYTES + pattern.length + tokens.length + tokenBytes);
  out.writeUInt32LE(RANK_TABLE_MAGIC, 0);
  out.writeUInt32LE(RANK_TABLE_VERSION, 4);
  out.writeUInt32LE(tokens.length, 8);
  out.writeUInt32LE(tokenBytes, 12);
  out.writeUInt32LE(pattern.length, 16);
  pattern.copy(out, HEADER_BYTES);
  const lengthsAt = HEADER_BYTES + pattern.length;
  let at = lengthsAt + tokens.length;
  tokens.forEach((token, rank) => {
    out[lengthsAt + rank] = token?.length ?? 0;
    if (token) at += token.copy(out, at);
  });
  return out;
}

function outputsOf(name) {
  return [`${name}.bin`, `${name}.js`, `${name}.worker.js`].map((file) => join(TABLES_DIR, file));
}

function isStale(name) {
  const newestInput = Math.max(statSync(rankFilePath(name)).mtimeMs, statSync(fileURLToPath(import.meta.url)).mtimeMs);
  try {
    return outputsOf(name).some((output) => statSync(output).mtimeMs < newestInput);
  } catch {
    return true;
  }
}

/** Each file is replaced by a rename, so a process loading tables never reads half a file. */
function writeAtomically(path, contents) {
  writeFileSync(`${path}.tmp`, contents);
  renameSync(`${path}.tmp`, path);
}

/**
 * Writes the tables of every encoding (only the stale ones with `ifStale`); returns the names written.
 * @example await writeRankTables({ ifStale: true }) // [] when nothing changed
 */
export async function writeRankTables({ ifStale = false } = {}) {
  mkdirSync(TABLES_DIR, { recursive: true });
  const written = [];
  for (const name of ENCODINGS) {
    if (ifStale && !isStale(name)) continue;
    const { default: file } = await import(`js-tiktoken/ranks/${name}`);
    const table = encodeRankTable(file);
    const [bin, js, worker] = outputsOf(name);
    const header = `// Generated by scripts/rank-tables.mjs from js-tiktoken's ${name} ranks; do not edit.\n`;
    writeAtomically(bin, table);
    // A file read rather than base64 in the module: compiling megabytes of string literal costs
    // Node more than the read (~15 ms and 2 MB of heap for o200k_base).
    writeAtomically(
      js,
      `${header}import { readFileSync } from 'node:fs';\n\nexport default readFileSync(new URL('./${name}.bin', import.meta.url));\n`,
    );
    // Dynamic, so the Worker instantiates only the encodings a request uses.
    writeAtomically(worker, `${header}export default import('./${name}.bin').then((module) => module.default);\n`);
    written.push(name);
  }
  return written;
}

/** The layout of `name` as generated, for tests: the bytes of <name>.bin. */
export function readRankTableFile(name) {
  return readFileSync(outputsOf(name)[0]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const written = await writeRankTables({ ifStale: process.argv.includes('--if-stale') });
  if (written.length > 0) console.log(`tollgate: rank tables written for ${written.join(', ')}`);
}
