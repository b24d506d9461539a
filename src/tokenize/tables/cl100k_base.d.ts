/**
 * The cl100k_base rank table in the layout of scripts/rank-tables.mjs, which generates this module: base64
 * text on Node, or the raw bytes where wrangler.toml's [alias] puts the Worker's Data module in its place.
 */
declare const table: string | Promise<ArrayBuffer>;
export default table;
