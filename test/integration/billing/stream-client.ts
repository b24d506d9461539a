import { countTokens } from '../../doubles/vllm-protocol';

/** What an application read of a stream: its chunks, the generated text per choice, and how it ended. */
export interface StreamRead {
  chunks: Record<string, any>[];
  /** Every generated string the client was shown, per choice index: text, content, reasoning, tool calls. */
  generated: Map<number, string>;
  /** Choices that reported a finish_reason. */
  finished: number;
  /** The usage chunk (empty `choices`), when one arrived. */
  usage: Record<string, any> | null;
  /** An error event, when the stream ended with one. */
  error: Record<string, any> | null;
  /** The client hung up before the stream ended. */
  left: boolean;
}

/** Completion tokens the client received, counted by the client itself (cl100k, per choice). */
export const receivedTokens = (read: StreamRead) => [...read.generated.values()].reduce((sum, text) => sum + countTokens(text), 0);

/**
 * Reads an SSE response as an application does; when `leaveWhen` says so, aborts `controller` (the
 * fetch's) and stops reading, as a client that closes its connection.
 */
export async function readStream(
  response: Response,
  options: { controller?: AbortController; leaveWhen?: (read: StreamRead) => boolean } = {},
): Promise<StreamRead> {
  const read: StreamRead = { chunks: [], generated: new Map(), finished: 0, usage: null, error: null, left: false };
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return read;
      pending += decoder.decode(value, { stream: true });
      let end = pending.indexOf('\n\n');
      while (end !== -1) {
        const event = pending.slice(0, end);
        pending = pending.slice(end + 2);
        end = pending.indexOf('\n\n');
        const data = event
          .split('\n')
          .filter((line) => line.startsWith('data: '))
          .map((line) => line.slice(6))
          .join('\n');
        if (data === '' || data === '[DONE]') continue;
        take(read, JSON.parse(data));
        if (options.leaveWhen?.(read)) {
          read.left = true;
          options.controller?.abort();
          await reader.cancel().catch(() => {});
          return read;
        }
      }
    }
  } catch (error) {
    if (read.left) return read;
    throw error;
  }
}

function take(read: StreamRead, chunk: Record<string, any>): void {
  read.chunks.push(chunk);
  if (chunk.error) read.error = chunk.error;
  if (Array.isArray(chunk.choices) && chunk.choices.length === 0 && chunk.usage) read.usage = chunk.usage;
  for (const choice of chunk.choices ?? []) {
    const parts: string[] = [];
    if (typeof choice.text === 'string') parts.push(choice.text);
    const delta = choice.delta ?? {};
    for (const field of ['content', 'reasoning', 'reasoning_content', 'refusal'])
      if (typeof delta[field] === 'string') parts.push(delta[field]);
    for (const call of delta.tool_calls ?? []) {
      if (typeof call.function?.name === 'string') parts.push(call.function.name);
      if (typeof call.function?.arguments === 'string') parts.push(call.function.arguments);
    }
    read.generated.set(choice.index, (read.generated.get(choice.index) ?? '') + parts.join(''));
    if (choice.finish_reason) read.finished++;
  }
}

/** Completion tokens in a whole (non-streamed) answer, counted by the client: every generated field of every choice. */
export function answerTokens(answer: Record<string, any>): number {
  let tokens = 0;
  for (const choice of answer.choices ?? []) {
    const parts: string[] = [];
    if (typeof choice.text === 'string') parts.push(choice.text);
    const message = choice.message ?? {};
    for (const field of ['content', 'reasoning', 'reasoning_content', 'refusal'])
      if (typeof message[field] === 'string') parts.push(message[field]);
    for (const call of message.tool_calls ?? []) {
      if (typeof call.function?.name === 'string') parts.push(call.function.name);
      if (typeof call.function?.arguments === 'string') parts.push(call.function.arguments);
    }
    tokens += countTokens(parts.join(''));
  }
  return tokens;
}
