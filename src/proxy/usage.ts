import { isRecord } from './shape';

/** Usage as a backend reports it (OpenAI's `usage` object). */
export interface ReportedUsage {
  promptTokens: number;
  completionTokens: number;
}

/** A usage object with whole, non-negative, safe counts; anything else (strings, negatives, 1e400) is no usage at all. */
export function readUsage(value: unknown): ReportedUsage | null {
  if (!isRecord(value)) return null;
  const prompt = value.prompt_tokens;
  const completion = value.completion_tokens ?? 0;
  if (!isCount(prompt) || !isCount(completion)) return null;
  return { promptTokens: prompt, completionTokens: completion };
}

// Fields of a message or delta that are not generated text: ids and labels the server sets.
const NOT_GENERATED = new Set(['role', 'id', 'type', 'index', 'finish_reason', 'stop_reason', 'logprobs', 'token_ids']);

/**
 * Collects the generated text per choice, from whole responses or stream chunks, so the gateway
 * can count what it relayed: every generated field counts (content, `reasoning` and
 * `reasoning_content`, refusals, tool and function calls with their arguments, and any field a
 * backend adds), not only `content`.
 */
export class GeneratedText {
  private readonly byChoice = new Map<number, string[]>();

  /** A chat or text completion response, or one stream chunk of either. */
  add(payload: unknown): void {
    if (!isRecord(payload) || !Array.isArray(payload.choices)) return;
    for (const choice of payload.choices) {
      if (!isRecord(choice)) continue;
      const index = typeof choice.index === 'number' ? choice.index : 0;
      const parts: string[] = [];
      if (typeof choice.text === 'string') parts.push(choice.text);
      const message = isRecord(choice.delta) ? choice.delta : isRecord(choice.message) ? choice.message : null;
      if (message) collectStrings(message, parts);
      if (parts.length === 0) continue;
      let texts = this.byChoice.get(index);
      if (!texts) this.byChoice.set(index, (texts = []));
      texts.push(...parts);
    }
  }

  get isEmpty(): boolean {
    return this.byChoice.size === 0;
  }

  /** One text per choice. */
  texts(): string[] {
    return [...this.byChoice.values()].map((parts) => parts.join(''));
  }
}

/** Every string under `value` except known non-generated fields, walked iteratively (backend JSON can nest). */
function collectStrings(value: Record<string, unknown>, out: string[]): void {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === 'string') out.push(item);
    else if (Array.isArray(item)) for (let i = item.length - 1; i >= 0; i--) stack.push(item[i]);
    else if (isRecord(item)) {
      const entries = Object.entries(item);
      for (let i = entries.length - 1; i >= 0; i--) if (!NOT_GENERATED.has(entries[i]![0])) stack.push(entries[i]![1]);
    }
  }
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
