import { type Counter, countChatPrompt, countText } from '../tokenize';
import type { ProxyRequest } from './request';

/** Prompt tokens of a request: each prompt of a batch apart (one for chat), and their sum. */
export interface PromptCount {
  perPrompt: number[];
  total: number;
}

/** Counts what the backend will read for `request`, in `counter`'s encoding. */
export async function countPrompt(counter: Counter, request: ProxyRequest, modelName: string): Promise<PromptCount> {
  const body = request.body;
  let perPrompt: number[];
  if (request.endpoint === 'chat.completions') {
    perPrompt = [
      await countChatPrompt(
        counter,
        { messages: body.messages as unknown[], tools: Array.isArray(body.tools) ? body.tools : undefined, functions: Array.isArray(body.functions) ? body.functions : undefined },
        modelName,
      ),
    ];
  } else {
    perPrompt = await countEach(counter, request.endpoint === 'completions' ? body.prompt : body.input);
    if (request.endpoint === 'completions' && typeof body.suffix === 'string') {
      const suffix = await countText(counter, body.suffix);
      perPrompt = perPrompt.map((tokens) => tokens + suffix);
    }
  }
  return { perPrompt, total: perPrompt.reduce((sum, tokens) => sum + tokens, 0) };
}

async function countEach(counter: Counter, input: unknown): Promise<number[]> {
  if (typeof input === 'string') return [await countText(counter, input)];
  const list = input as unknown[];
  if (list.every((item) => typeof item === 'number')) return [list.length];
  const counts: number[] = [];
  for (const item of list) counts.push(typeof item === 'string' ? await countText(counter, item) : (item as unknown[]).length);
  return counts;
}
