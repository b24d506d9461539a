import { Tiktoken as JsTiktoken } from 'js-tiktoken/lite';
import { get_encoding } from 'tiktoken';
import { loadEncodingCounter } from '../../src/tokenize/counter';

/**
 * The four tokenizers the bench compares, behind one shape. Only cl100k_base and o200k_base
 * are benchmarked (gpt-tokenizer ships those as separate modules).
 */
export type BenchEncoding = 'cl100k_base' | 'o200k_base';

export interface BenchTokenizer {
  name: string;
  count(text: string): number;
  encode(text: string): number[];
  /** Forget everything learned from earlier inputs (caches), for cold measurements. */
  forget(): void;
}

export const TOKENIZER_NAMES = ['tollgate', 'js-tiktoken', 'gpt-tokenizer', 'tiktoken (WASM)'] as const;
export type TokenizerName = (typeof TOKENIZER_NAMES)[number];

/** `cached`: gpt-tokenizer keeps its merge cache (default size); otherwise it is disabled. */
export async function loadTokenizer(name: TokenizerName, encoding: BenchEncoding, cached = false): Promise<BenchTokenizer> {
  switch (name) {
    case 'tollgate': {
      const counter = await loadEncodingCounter(encoding);
      return {
        name,
        count: (text) => counter.count(text),
        encode: (text) => counter.encode(text),
        forget: () => counter.engine.clearCaches(),
      };
    }
    case 'js-tiktoken': {
      const { default: ranks } = await import(`js-tiktoken/ranks/${encoding}`);
      const tiktoken = new JsTiktoken(ranks);
      return { name, count: (t) => tiktoken.encode(t, [], []).length, encode: (t) => tiktoken.encode(t, [], []), forget: () => {} };
    }
    case 'gpt-tokenizer': {
      const gpt = await import(`gpt-tokenizer/encoding/${encoding}`);
      const cacheSize = cached ? 100_000 : 0;
      gpt.setMergeCacheSize(cacheSize);
      const options = { disallowedSpecial: new Set<string>() };
      return {
        name: cached ? 'gpt-tokenizer (cache)' : 'gpt-tokenizer (no cache)',
        count: (t) => gpt.countTokens(t, options),
        encode: (t) => gpt.encode(t, options),
        forget: () => gpt.clearMergeCache(),
      };
    }
    case 'tiktoken (WASM)': {
      const tiktoken = get_encoding(encoding);
      return {
        name,
        count: (t) => tiktoken.encode_ordinary(t).length,
        encode: (t) => Array.from(tiktoken.encode_ordinary(t)),
        forget: () => {},
      };
    }
  }
}
