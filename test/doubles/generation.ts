// What the fake model generates for one request, before any of it is written: the pieces of
// every sequence, where each stops and why, and the true token counts. Pure.
import type { ScriptedToolCall } from './behavior';
import { countTokens, newId, tokenPieces, toolCallId, unixNow } from './vllm-protocol';

export type FinishReason = 'stop' | 'length' | 'tool_calls';

/** One stretch of generated tokens, as vLLM shows it to a client: one streamed delta. */
export type Piece =
  | { kind: 'content' | 'reasoning'; text: string; tokens: number }
  | { kind: 'tool-name'; call: number; id: string; name: string; tokens: number }
  | { kind: 'tool-arguments'; call: number; text: string; tokens: number };

/** One generated sequence. */
export interface Sequence {
  /** The choice index vLLM reports: n per prompt, prompt-major. */
  index: number;
  /** Tokens of the prompt this sequence continues (continuous usage reports them per chunk). */
  promptTokens: number;
  pieces: Piece[];
  finishReason: FinishReason;
}

export interface Generation {
  kind: 'chat' | 'text';
  id: string;
  created: number;
  model: string;
  /** The choices returned, in index order. */
  choices: Sequence[];
  /** Sequences generated for best_of but not returned: they cost GPU time and no usage. */
  unreturned: Sequence[];
  /** Prompt tokens of every prompt, summed: what usage reports. */
  promptTokens: number;
  /** The model reasons: usage carries completion_tokens_details, messages the reasoning field. */
  reasons: boolean;
  reasoningField: 'reasoning' | 'reasoning_content';
}

/** What the fake model says for every prompt: reasoning, then tool calls or content. */
export interface Script {
  word: string;
  contentTokens: number;
  reasoningTokens: number;
  /** Names resolved; undefined when the model answers with content. */
  toolCalls?: Required<ScriptedToolCall>[];
  /** finish_reason after complete tool calls: `tool_calls`, or `stop` for a named tool_choice. */
  toolFinish: 'tool_calls' | 'stop';
  reasoningField: 'reasoning' | 'reasoning_content';
}

export interface Prompt {
  tokens: number;
  /** Most tokens a sequence may generate: the request's max tokens, else what the context window leaves. */
  cap: number;
}

/**
 * Plan every sequence: per prompt `generated` sequences (max(n, best_of)), the first `returned` (n)
 * of which are choices.
 * @example
 * const gen = plan('chat', 'llama', [{ tokens: 12, cap: 3 }], { returned: 1, generated: 1 }, script);
 * gen.choices[0].finishReason; // 'length' when the script says more than 3 tokens
 */
export function plan(
  kind: Generation['kind'],
  model: string,
  prompts: Prompt[],
  counts: { returned: number; generated: number },
  script: Script,
): Generation {
  const choices: Sequence[] = [];
  const unreturned: Sequence[] = [];
  for (const [p, prompt] of prompts.entries()) {
    for (let s = 0; s < counts.generated; s++) {
      const sequence = { index: p * counts.returned + s, promptTokens: prompt.tokens, ...sequencePieces(script, prompt.cap) };
      (s < counts.returned ? choices : unreturned).push(sequence);
    }
  }
  return {
    kind,
    id: newId(kind === 'chat' ? 'chatcmpl' : 'cmpl'),
    created: unixNow(),
    model,
    choices,
    unreturned,
    promptTokens: prompts.reduce((sum, prompt) => sum + prompt.tokens, 0),
    reasons: kind === 'chat' && script.reasoningTokens > 0,
    reasoningField: script.reasoningField,
  };
}

function sequencePieces(script: Script, cap: number): { pieces: Piece[]; finishReason: FinishReason } {
  const all: Piece[] = Array.from({ length: script.reasoningTokens }, () => ({ kind: 'reasoning', text: script.word, tokens: 1 }));
  if (script.toolCalls) {
    for (const [call, { name, arguments: args }] of script.toolCalls.entries()) {
      // vLLM's tool parsers hold tokens back until the name is whole, then send it in one delta
      all.push({ kind: 'tool-name', call, id: toolCallId(), name, tokens: countTokens(name) });
      for (const piece of tokenPieces(args)) all.push({ kind: 'tool-arguments', call, ...piece });
    }
  } else {
    for (let t = 0; t < script.contentTokens; t++) all.push({ kind: 'content', text: script.word, tokens: 1 });
  }
  const pieces: Piece[] = [];
  let used = 0;
  for (const piece of all) {
    if (used + piece.tokens > cap) break;
    pieces.push(piece);
    used += piece.tokens;
  }
  // reaching the cap is 'length' even when the model had nothing more to say: the cap stops it before EOS
  if (tokensOf(all) >= cap) return { pieces, finishReason: 'length' };
  return { pieces, finishReason: script.toolCalls ? script.toolFinish : 'stop' };
}

export const tokensOf = (pieces: readonly Piece[]) => pieces.reduce((sum, piece) => sum + piece.tokens, 0);

/** Completion tokens that usage reports: the returned choices' only. */
export const completionTokens = (gen: Generation) => gen.choices.reduce((sum, choice) => sum + tokensOf(choice.pieces), 0);

export const reasoningTokens = (gen: Generation) =>
  gen.choices.reduce((sum, choice) => sum + tokensOf(choice.pieces.filter((piece) => piece.kind === 'reasoning')), 0);

/**
 * The decode steps, every sequence advancing one piece per step, in parallel as vLLM batches
 * them: how many tokens the longest piece takes (the step's time), and how many all generate.
 */
export function decodeSteps(gen: Generation): { pace: number; generated: number }[] {
  const sequences = [...gen.choices, ...gen.unreturned];
  const length = Math.max(0, ...sequences.map((sequence) => sequence.pieces.length));
  return Array.from({ length }, (_, step) => {
    const tokens = sequences.map((sequence) => sequence.pieces[step]?.tokens ?? 0);
    return { pace: Math.max(...tokens), generated: tokens.reduce((a, b) => a + b, 0) };
  });
}
