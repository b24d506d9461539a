// Types of scripts/rank-tables.mjs (plain JavaScript, so build.mjs and wrangler's [build] run it without a transpiler).

/** Where the generated tables go: src/tokenize/tables. */
export const TABLES_DIR: string;
export const ENCODINGS: readonly string[];
export const RANK_TABLE_MAGIC: number;
export const RANK_TABLE_VERSION: number;
/** The binary layout of one js-tiktoken rank file. */
export function encodeRankTable(file: { pat_str: string; bpe_ranks: string }): Buffer;
/** Writes every encoding's tables (only stale ones with `ifStale`); resolves to the names written. */
export function writeRankTables(options?: { ifStale?: boolean }): Promise<string[]>;
/** The bytes of a generated <name>.bin. */
export function readRankTableFile(name: string): Buffer;
