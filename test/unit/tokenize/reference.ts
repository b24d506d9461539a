import { Tiktoken as JsTiktoken } from 'js-tiktoken/lite';
import { get_encoding, type Tiktoken as WasmTiktoken } from 'tiktoken';
import type { EncodingName } from '../../../src/config';
import { type EncodingCounter, loadCounter } from '../../../src/tokenize/counter';
import { tokenByteString } from '../../../src/tokenize/ranks';

/** The reference for every result: tiktoken's Rust core, through its WASM build. */
const wasm = new Map<EncodingName, WasmTiktoken>();
export function referenceIds(encoding: EncodingName, text: string): number[] {
  let enc = wasm.get(encoding);
  if (!enc) {
    enc = get_encoding(encoding);
    wasm.set(encoding, enc);
  }
  return Array.from(enc.encode_ordinary(text));
}

const js = new Map<EncodingName, JsTiktoken>();
export async function jsTiktokenIds(encoding: EncodingName, text: string): Promise<number[]> {
  let enc = js.get(encoding);
  if (!enc) {
    const { default: ranks } = await import(`js-tiktoken/ranks/${encoding}`);
    enc = new JsTiktoken(ranks);
    js.set(encoding, enc);
  }
  return enc.encode(text, [], []);
}

export function ours(encoding: EncodingName): Promise<EncodingCounter> {
  return loadCounter(encoding);
}

/** Bytes of token ids, as a byte string: decoding must give back the input's UTF-8. */
export function decodeToByteString(counter: EncodingCounter, ids: readonly number[]): string {
  return ids.map((id) => tokenByteString(counter.engine.tables, id)).join('');
}

export function utf8ByteString(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let out = '';
  for (let i = 0; i < bytes.length; i += 8192) out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return out;
}
