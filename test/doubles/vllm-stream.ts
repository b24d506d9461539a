// vLLM's SSE stream for chat and text completions, event by event.
import type { Behavior } from './fake-vllm';
import type { Usage } from './vllm-protocol';
import type { Wire } from './wire';

export interface Generation {
  kind: 'chat' | 'text';
  id: string;
  created: number;
  model: string;
  choiceCount: number;
  tokensPerChoice: number;
  finishReason: 'length' | 'stop';
  /** Undefined when the backend reports none (omitUsage). */
  usage: Usage | undefined;
}

export async function streamGeneration(wire: Wire, gen: Generation, behavior: Behavior, includeUsage: boolean): Promise<void> {
  const { events, gateAt } = sseEvents(gen, behavior.word, includeUsage);
  wire.head({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  if (wire.cutAfter === 0) return wire.sleep(5).then(() => wire.destroy()); // head only, then drop
  for (const [i, event] of events.entries()) {
    if (i > 0 && behavior.chunkDelayMs > 0) await wire.sleep(behavior.chunkDelayMs);
    if (i === gateAt && behavior.gate) await wire.until(behavior.gate);
    if (wire.gone) return; // client left (or we cut it): stop generating
    await wire.event(event);
  }
  wire.end();
}

/**
 * Role chunk per choice (chat only), one chunk per token per choice, a finish chunk per
 * choice, the usage chunk when asked for, then [DONE]. `gateAt` is the last content chunk.
 */
export function sseEvents(gen: Generation, word: string, includeUsage: boolean): { events: string[]; gateAt: number } {
  const object = gen.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion';
  const base = { id: gen.id, object, created: gen.created, model: gen.model };
  const reportUsage = includeUsage && gen.usage !== undefined;
  // vLLM: with include_usage, every regular chunk says `"usage": null`
  const chunk = (choice: object) => JSON.stringify({ ...base, choices: [choice], ...(reportUsage && { usage: null }) });
  const choices = Array.from({ length: gen.choiceCount }, (_, index) => index);
  const chat = gen.kind === 'chat';

  const events: string[] = [];
  if (chat) for (const index of choices) events.push(chunk({ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }));
  for (let t = 0; t < gen.tokensPerChoice; t++) {
    for (const index of choices) {
      events.push(chunk(chat ? { index, delta: { content: word }, logprobs: null, finish_reason: null } : { index, text: word, logprobs: null, finish_reason: null }));
    }
  }
  const gateAt = gen.tokensPerChoice > 0 ? events.length - 1 : events.length;
  for (const index of choices) {
    const finish_reason = gen.finishReason;
    events.push(chunk(chat ? { index, delta: {}, logprobs: null, finish_reason } : { index, text: '', logprobs: null, finish_reason }));
  }
  if (reportUsage) events.push(JSON.stringify({ ...base, choices: [], usage: gen.usage }));
  events.push('[DONE]');
  return { events, gateAt };
}
