import { beforeAll, describe, expect, test } from 'vitest';
import {
  type Counter,
  countCompletionPrompts,
  countEmbeddingInputs,
  FIM_TOKENS,
  loadCounter,
  UncountableInputError,
} from '../../../src/tokenize';

let counter: Counter;
beforeAll(async () => {
  counter = await loadCounter('cl100k_base');
});

describe('each prompt of a completions request is counted', () => {
  test.each([
    ['a string', 'hello world', [2]],
    ['an empty string', '', [0]],
    ['a list of strings', ['hello world', 'hello'], [2, 1]],
    ['token ids', [15339, 1917, 0], [3]],
    ['lists of token ids', [[15339, 1917], [1]], [2, 1]],
    ['strings and id lists mixed', ['hello', [1, 2, 3]], [1, 3]],
  ])('%s', async (_, prompt, expected) => {
    expect(await countCompletionPrompts(counter, prompt)).toEqual(expected);
    expect(await countEmbeddingInputs(counter, prompt)).toEqual(expected);
  });

  test('a suffix is rendered into every prompt, with the fill-in-the-middle markers', async () => {
    const suffix = 'return total';
    const extra = counter.count(suffix) + FIM_TOKENS;
    expect(await countCompletionPrompts(counter, ['def f():', [1, 2]], suffix)).toEqual([counter.count('def f():') + extra, 2 + extra]);
    expect(await countCompletionPrompts(counter, 'x', '')).toEqual([1]);
    expect(await countCompletionPrompts(counter, 'x', null)).toEqual([1]);
  });
});

describe('what cannot be counted is refused, naming the field', () => {
  test.each([
    ['nothing', undefined, 'prompt', /missing/],
    ['an object', { text: 'x' }, 'prompt', /an object/],
    ['a number', 42, 'prompt', /a number/],
    ['an empty list', [], 'prompt', /an empty list/],
    ['an empty id list', [[1, 2], []], 'prompt[1]', /empty list of token ids/],
    ['a negative id', [5, -1], 'prompt[1]', /not a token id/],
    ['a fractional id', [[1, 2.5]], 'prompt[0][1]', /2\.5/],
    ['an id past the safe integers', [2 ** 53], 'prompt[0]', /not a token id/],
    ['a string among ids', [1, 'two'], 'prompt[1]', /a string, not a token id/],
    ['an id among strings', ['one', 2], 'prompt[1]', /a number, not text or a list of token ids/],
    ['null among strings', ['one', null], 'prompt[1]', /null/],
  ])('%s', async (_, prompt, param, message) => {
    const error = await countCompletionPrompts(counter, prompt).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UncountableInputError);
    expect((error as UncountableInputError).param).toBe(param);
    expect((error as UncountableInputError).message).toMatch(message);
  });

  test('embeddings name their field `input`', async () => {
    const error = await countEmbeddingInputs(counter, [[7], [-7]]).catch((e: unknown) => e);
    expect((error as UncountableInputError).param).toBe('input[1][0]');
  });

  test('a suffix that is not text is refused', async () => {
    const error = await countCompletionPrompts(counter, 'x', ['a']).catch((e: unknown) => e);
    expect((error as UncountableInputError).param).toBe('suffix');
  });
});
