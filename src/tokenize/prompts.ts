import type { Counter } from './counter';
import { describeValue, uncountable } from './errors';
import { yieldToEventLoop } from './yield';

/** Fill-in-the-middle markers a backend wraps around prompt and suffix (prefix, suffix, middle). */
export const FIM_TOKENS = 3;
/** Token ids checked between yields. */
const IDS_PER_SLICE = 65_536;
/** Prompts counted between yields. */
const PROMPTS_PER_SLICE = 512;

/**
 * Tokens of each prompt of a completions request: a string is one prompt, a list of strings one
 * each, a list of token ids one prompt of that many tokens, a list of such lists one each. A
 * `suffix` (fill-in-the-middle) is rendered into every prompt, with its markers. Throws
 * UncountableInputError for anything else: an empty list, an empty id list, an id that is not a
 * non-negative safe integer, a non-string suffix.
 *
 * @example await countCompletionPrompts(counter, ['hello world', 'hi'], 'bye') // [2 + 1 + 3, 1 + 1 + 3]
 */
export async function countCompletionPrompts(counter: Counter, prompt: unknown, suffix?: unknown): Promise<number[]> {
  let extra = 0;
  if (typeof suffix === 'string') extra = suffix === '' ? 0 : (await counter.countAsync(suffix)) + FIM_TOKENS;
  else if (suffix !== null && suffix !== undefined) throw uncountable('suffix', `${describeValue(suffix)}, not text`);
  return (await promptTokens(counter, prompt, 'prompt')).map((tokens) => tokens + extra);
}

/**
 * Tokens of each embeddings input, of the same shapes as a completions prompt.
 * @example await countEmbeddingInputs(counter, [[15339, 1917], [1]]) // [2, 1]
 */
export function countEmbeddingInputs(counter: Counter, input: unknown): Promise<number[]> {
  return promptTokens(counter, input, 'input');
}

async function promptTokens(counter: Counter, value: unknown, param: string): Promise<number[]> {
  if (typeof value === 'string') return [await counter.countAsync(value)];
  if (!Array.isArray(value)) throw uncountable(param, `${describeValue(value)}, not text, a list of texts or a list of token ids`);
  if (value.length === 0) throw uncountable(param, 'an empty list');
  if (typeof value[0] === 'number') return [await checkedIdCount(value, param)];
  const counts: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    const at = `${param}[${i}]`;
    if (typeof item === 'string') counts.push(await counter.countAsync(item));
    else if (Array.isArray(item) && item.length > 0) counts.push(await checkedIdCount(item, at));
    else
      throw uncountable(at, Array.isArray(item) ? 'an empty list of token ids' : `${describeValue(item)}, not text or a list of token ids`);
    if (i % PROMPTS_PER_SLICE === PROMPTS_PER_SLICE - 1) await yieldToEventLoop();
  }
  return counts;
}

/** The length of a token-id list, once every id is known to be one. */
async function checkedIdCount(ids: unknown[], param: string): Promise<number> {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
      throw uncountable(`${param}[${i}]`, `${describeValue(id)}${typeof id === 'number' ? ` (${id})` : ''}, not a token id`);
    }
    if (i % IDS_PER_SLICE === IDS_PER_SLICE - 1) await yieldToEventLoop();
  }
  return ids.length;
}

/**
 * Total tokens of a completions `prompt` or embeddings `input`, any shape; anything else is 0.
 * @deprecated Use countCompletionPrompts / countEmbeddingInputs, which count each prompt and
 * refuse what they cannot count.
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
