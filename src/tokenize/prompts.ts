import type { Counter } from './counter';

/**
 * Tokens of a completions `prompt` or embeddings `input`: a string, a list of strings, a list of
 * token ids, or a list of such lists. Plain text count; no chat overhead.
 */
export async function countTextInput(counter: Counter, input: unknown): Promise<number> {
  if (typeof input === 'string') return counter.countAsync(input);
  if (Array.isArray(input)) {
    if (input.every((item) => typeof item === 'number')) return input.length;
    let tokens = 0;
    for (const item of input) tokens += await countTextInput(counter, item);
    return tokens;
  }
  return 0;
}
