// vLLM's SSE stream for chat and text completions, event by event.
import type { Behavior, ReceivedRequest } from './behavior';
import { completionTokens, decodeSteps, type Generation, type Piece, reasoningTokens, type Sequence } from './generation';
import { type UsageOverride, usage } from './vllm-protocol';
import type { Wire } from './wire';

/** Where a stream reports usage (vLLM's `should_include_usage`, or a lying backend's choice). */
export interface UsageMode {
  /** A last `choices: []` chunk with the totals (include_usage). */
  final: boolean;
  /** Every chunk carries the running usage of its own choice (continuous_usage_stats). */
  perChunk: boolean;
  /** Other chunks say `"usage": null`, as vLLM did with include_usage alone. */
  nullOnChunks: boolean;
  override?: UsageOverride;
}

export interface StreamEvent {
  data: string;
  /** Completion tokens this event shows the client. */
  tokens: number;
  /** Tokens to generate before this event (its decode step's longest piece); 0 within a step. */
  pace: number;
  /** Tokens every sequence generates in that step. */
  generated: number;
}

/**
 * Write a generation as vLLM streams it, paced by `tokenMs` per token and `chunkDelayMs` per
 * event, recording what was generated and what reached the client.
 */
export async function streamGeneration(
  wire: Wire,
  gen: Generation,
  behavior: Behavior,
  mode: UsageMode,
  record: ReceivedRequest,
): Promise<void> {
  const { events, gateAt } = streamEvents(gen, mode);
  wire.head({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  if (wire.cutAfter === 0) return wire.sleep(5).then(() => wire.destroy()); // head only, then drop
  for (const [i, event] of events.entries()) {
    if (i > 0 && behavior.chunkDelayMs > 0) await wire.sleep(behavior.chunkDelayMs);
    if (event.pace > 0 && behavior.tokenMs > 0) await wire.sleep(event.pace * behavior.tokenMs);
    if (i === gateAt && behavior.gate) await wire.until(behavior.gate);
    if (wire.gone) return; // client left (or we cut it): vLLM aborts the request, generation stops
    record.generatedTokens += event.generated;
    if (await wire.event(event.data)) record.sentTokens += event.tokens;
  }
  wire.end();
}

/**
 * Chat: a role chunk per choice, then per decode step one chunk per choice (choices interleave,
 * n per prompt, prompt-major). A choice cut by its cap carries finish_reason on its last token's
 * chunk; one that stops by itself sends a finish chunk for its EOS token. Then the usage chunk
 * when asked for, then [DONE]. `gateAt` is the last chunk that carries tokens.
 */
export function streamEvents(gen: Generation, mode: UsageMode): { events: StreamEvent[]; gateAt: number } {
  const chat = gen.kind === 'chat';
  const base = { id: gen.id, object: chat ? 'chat.completion.chunk' : 'text_completion', created: gen.created, model: gen.model };
  const soFar = gen.choices.map(() => ({ tokens: 0, reasoning: 0 }));
  const events: StreamEvent[] = [];
  const push = (choice: Sequence, body: object, piece?: Piece) => {
    const count = soFar[choice.index]!;
    count.tokens += piece?.tokens ?? 0;
    if (piece?.kind === 'reasoning') count.reasoning += piece.tokens;
    const running = usage(choice.promptTokens, count.tokens, mode.override, gen.reasons ? count.reasoning : undefined);
    const usageField = mode.perChunk ? { usage: running } : mode.nullOnChunks ? { usage: null } : {};
    events.push({ data: JSON.stringify({ ...base, choices: [body], ...usageField }), tokens: piece?.tokens ?? 0, pace: 0, generated: 0 });
  };

  const steps = decodeSteps(gen);
  const length = Math.max(0, ...gen.choices.map((choice) => choice.pieces.length));
  for (let step = 0; step <= length; step++) {
    const first = events.length;
    if (step === 0 && chat)
      for (const choice of gen.choices)
        push(choice, { index: choice.index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null });
    for (const choice of gen.choices) {
      const piece = choice.pieces[step];
      const last = step === choice.pieces.length - 1;
      if (piece) push(choice, pieceChoice(gen, choice, piece, last && choice.finishReason === 'length' ? 'length' : null), piece);
      else if (step === choice.pieces.length && !(choice.finishReason === 'length' && step > 0)) push(choice, finishChoice(gen, choice));
    }
    const opening = events[first];
    if (opening && steps[step]) Object.assign(opening, steps[step]); // the step's decode time comes before its first chunk
  }
  const tokenEvents = events.flatMap((event, i) => (event.tokens > 0 ? [i] : []));
  const gateAt = tokenEvents.at(-1) ?? (chat ? gen.choices.length : 0);

  if (mode.final) {
    const total = usage(gen.promptTokens, completionTokens(gen), mode.override, gen.reasons ? reasoningTokens(gen) : undefined);
    events.push({ data: JSON.stringify({ ...base, choices: [], usage: total }), tokens: 0, pace: 0, generated: 0 });
  }
  events.push({ data: '[DONE]', tokens: 0, pace: 0, generated: 0 });
  return { events, gateAt };
}

function pieceChoice(gen: Generation, choice: Sequence, piece: Piece, finish: 'length' | null) {
  const end = { logprobs: null, finish_reason: finish, ...(finish && { stop_reason: null }) };
  if (gen.kind === 'text') return { index: choice.index, text: 'text' in piece ? piece.text : '', ...end };
  return { index: choice.index, delta: delta(gen, piece), ...end };
}

function delta(gen: Generation, piece: Piece): object {
  switch (piece.kind) {
    case 'content':
      return { content: piece.text };
    case 'reasoning':
      return { [gen.reasoningField]: piece.text };
    case 'tool-name':
      return { tool_calls: [{ id: piece.id, type: 'function', index: piece.call, function: { name: piece.name } }] };
    case 'tool-arguments':
      return { tool_calls: [{ index: piece.call, function: { arguments: piece.text } }] };
  }
}

/** The EOS token's chunk: empty text (vLLM decodes EOS to ''); with a reasoning or tool parser, an empty delta. */
function finishChoice(gen: Generation, choice: Sequence) {
  const end = { logprobs: null, finish_reason: choice.finishReason, stop_reason: null };
  if (gen.kind === 'text') return { index: choice.index, text: '', ...end };
  const parsed = gen.reasons || choice.pieces.some((piece) => piece.kind !== 'content');
  return { index: choice.index, delta: parsed ? {} : { content: '' }, ...end };
}
