/** Usage as the backend reports it (OpenAI's `usage` object), when it does. */
export interface UpstreamUsage {
  promptTokens: number;
  completionTokens: number;
}

export function readUsage(value: unknown): UpstreamUsage | null {
  if (!isRecord(value)) return null;
  const prompt = value.prompt_tokens;
  const completion = value.completion_tokens ?? 0;
  if (!isCount(prompt) || !isCount(completion)) return null;
  return { promptTokens: prompt, completionTokens: completion };
}

/**
 * Collects the generated text per choice, from whole responses or stream chunks, so the gateway
 * can count completion tokens itself when the backend reports no usage.
 */
export class GeneratedText {
  private readonly byChoice = new Map<number, string>();
  chunks = 0;

  /** A chat or text completion response, or one stream chunk of either. */
  add(payload: unknown): void {
    if (!isRecord(payload) || !Array.isArray(payload.choices)) return;
    for (const choice of payload.choices) {
      if (!isRecord(choice)) continue;
      const index = typeof choice.index === 'number' ? choice.index : 0;
      const text = textOfChoice(choice);
      if (text) {
        this.byChoice.set(index, (this.byChoice.get(index) ?? '') + text);
        this.chunks++;
      }
    }
  }

  get isEmpty(): boolean {
    return this.byChoice.size === 0;
  }

  texts(): string[] {
    return [...this.byChoice.values()];
  }
}

function textOfChoice(choice: Record<string, unknown>): string {
  if (typeof choice.text === 'string') return choice.text;
  const message = isRecord(choice.delta) ? choice.delta : isRecord(choice.message) ? choice.message : null;
  if (!message) return '';
  let text = '';
  if (typeof message.content === 'string') text += message.content;
  if (typeof message.reasoning_content === 'string') text += message.reasoning_content;
  if (Array.isArray(message.tool_calls)) {
    for (const call of message.tool_calls) {
      if (isRecord(call) && isRecord(call.function)) {
        if (typeof call.function.name === 'string') text += call.function.name;
        if (typeof call.function.arguments === 'string') text += call.function.arguments;
      }
    }
  }
  return text;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
