/**
 * The cl100k_base rank table in the layout of scripts/rank-tables.mjs, which generates this module: the
 * bytes of cl100k_base.bin read from disk on Node, or, where wrangler.toml's [alias] puts the Worker's Data
 * module in its place, those bytes as an ArrayBuffer.
 */
declare const table: Uint8Array | Promise<ArrayBuffer>;
export default table;
