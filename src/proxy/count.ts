import { badRequest } from '../errors';
import { type Counter, countChatRequest, countCompletionPrompts, countEmbeddingInputs, UncountableInputError } from '../tokenize';
import type { ProxyRequest } from './request';

/** Prompt tokens of a request: each prompt of a batch apart (one for chat), and their sum. */
export interface PromptCount {
  perPrompt: number[];
  total: number;
}

/**
 * Counts everything the backend will read for `request`, in `counter`'s encoding: for chat, the
 * messages and everything a chat template renders (tools, functions, documents, template
 * arguments, a reply schema); for completions, each prompt with its suffix. What cannot be
 * counted is refused with a 400 naming the field.
 */
export async function countPrompt(counter: Counter, request: ProxyRequest, modelName: string): Promise<PromptCount> {
  const body = request.body;
  let perPrompt: number[];
  try {
    if (request.endpoint === 'chat.completions') perPrompt = [await countChatRequest(counter, body, modelName)];
    else if (request.endpoint === 'completions') perPrompt = await countCompletionPrompts(counter, body.prompt, body.suffix);
    else perPrompt = await countEmbeddingInputs(counter, body.input);
  } catch (error) {
    if (error instanceof UncountableInputError) throw badRequest(error.message, error.param, 'uncountable_input');
    throw error;
  }
  return { perPrompt, total: perPrompt.reduce((sum, tokens) => sum + tokens, 0) };
}
