// What the fake vLLM does, and what it records of each request. Plain types and defaults.
import type { UsageOverride } from './vllm-protocol';

/** A tool call the fake model makes; `name` defaults to the request's named tool_choice, else its first tool. */
export interface ScriptedToolCall {
  name?: string;
  /** The arguments JSON text, streamed in token-sized pieces. */
  arguments: string;
}

export interface Behavior {
  /**
   * Content tokens generated per choice, capped by the request's max tokens (chat:
   * max_completion_tokens, else max_tokens; completions: max_tokens only) and by maxModelLen.
   * A completions request without max_tokens gets this many too, where vLLM would stop at 16.
   */
  completionTokens: number;
  /** Text of one generated token: content (and reasoning) is `word` repeated. */
  word: string;
  /** Delay before the response head (errors included). */
  latencyMs: number;
  /** Delay between streamed SSE events. */
  chunkDelayMs: number;
  /**
   * Time to generate one token. vLLM sends a non-streamed answer's head only when generation
   * ends, so that head waits tokens × tokenMs; a stream paces its token chunks by it.
   */
  tokenMs: number;
  /** Never report usage: no body `usage`, no usage in any chunk. */
  omitUsage: boolean;
  /**
   * Report these instead of the true numbers, in every usage object (body, final chunk,
   * per-chunk). Any JSON value goes: 3e9, -1, 1.5, '12', 0. total_tokens defaults to the sum
   * when both others are numbers, else to the true total.
   */
  usageOverride?: UsageOverride;
  /** Streams: usage in every chunk (per choice, as continuous_usage_stats), whatever was asked, and no final usage chunk. */
  perChunkUsageOnly: boolean;
  /** Chat: reasoning tokens generated per choice before the content (or tool call); they count as completion tokens. */
  reasoningTokens: number;
  /** Field carrying reasoning: `reasoning`, as current vLLM names it, or `reasoning_content`, as older vLLM did. */
  reasoningField: 'reasoning' | 'reasoning_content';
  /** Chat: when the request offers tools (and tool_choice is not "none"), answer with these calls instead of content. */
  toolCalls?: ScriptedToolCall[];
  /** Write each SSE event in 2-3 separate TCP writes split mid-line. */
  splitWrites: boolean;
  /**
   * Status: answer that error (with a Retry-After header when `retryAfter` seconds are given).
   * disconnect: destroy the socket before the head, or after N SSE events of a stream. hang: never answer.
   */
  fail?: { status: number; body?: unknown; retryAfter?: number } | { kind: 'disconnect'; afterChunks?: number } | { kind: 'hang' };
  /** More POST requests than this in flight at once: the extra ones get a 503 at once. */
  maxConcurrent?: number;
  /**
   * `/health`: `follow` answers it like any request (latency and failures apply); `ok` answers 200
   * at once whatever else fails (a replica lying about its health); `fail` answers 503, as vLLM
   * does when its engine died.
   */
  health: 'follow' | 'ok' | 'fail';
  /** prompt + max_tokens above this gets vLLM's 400 context-length error; /v1/models reports it. */
  maxModelLen: number;
  /** A stream waits on this before its last token chunk. */
  gate?: Promise<void>;
}

export const defaultBehavior: Readonly<Behavior> = {
  completionTokens: 5,
  word: ' tok',
  latencyMs: 0,
  chunkDelayMs: 0,
  tokenMs: 0,
  omitUsage: false,
  perChunkUsageOnly: false,
  reasoningTokens: 0,
  reasoningField: 'reasoning',
  splitWrites: false,
  health: 'follow',
  maxModelLen: 1_000_000,
};

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON; the raw text when it was not JSON; undefined when empty. */
  body: any;
  receivedAt: number;
  /** The client went away before the response ended. */
  aborted: boolean;
  /** The whole response was written and ended. */
  completed: boolean;
  /** Completion tokens generated so far, every sequence counted (best_of ones too): what the GPU spent. */
  generatedTokens: number;
  /** Completion tokens the client was sent: in stream chunks flushed to its socket, or in a whole JSON body. */
  sentTokens: number;
}
