import { Tiktoken, type TiktokenBPE } from 'js-tiktoken/lite';
import type { EncodingName } from '../config';

/** Turns text into token ids for one encoding. Special-token strings are ordinary text. */
export interface Counter {
  readonly encoding: EncodingName;
  encode(text: string): number[];
  count(text: string): number;
}

const RANKS: Record<EncodingName, () => Promise<{ default: TiktokenBPE }>> = {
  cl100k_base: () => import('js-tiktoken/ranks/cl100k_base'),
  o200k_base: () => import('js-tiktoken/ranks/o200k_base'),
  p50k_base: () => import('js-tiktoken/ranks/p50k_base'),
  p50k_edit: () => import('js-tiktoken/ranks/p50k_edit'),
  r50k_base: () => import('js-tiktoken/ranks/r50k_base'),
  gpt2: () => import('js-tiktoken/ranks/gpt2'),
};

const loaded = new Map<EncodingName, Promise<Counter>>();

/** Loads an encoding's ranks on first use only, so unused encodings cost no memory. */
export function loadCounter(encoding: EncodingName): Promise<Counter> {
  let counter = loaded.get(encoding);
  if (!counter) {
    counter = RANKS[encoding]().then(({ default: ranks }) => {
      const tiktoken = new Tiktoken(ranks);
      return {
        encoding,
        // disallowedSpecial = [] makes "<|endoftext|>" in user text count as plain text instead of throwing
        encode: (text: string) => tiktoken.encode(text, [], []),
        count: (text: string) => tiktoken.encode(text, [], []).length,
      };
    });
    loaded.set(encoding, counter);
    counter.catch(() => loaded.delete(encoding));
  }
  return counter;
}
