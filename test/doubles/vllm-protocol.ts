// Wire shapes and token counting of vLLM's OpenAI-compatible server, for the fake backend.
// Plain functions over plain data; the HTTP side lives in fake-vllm.ts.
import { randomUUID } from 'node:crypto';
import { Tiktoken } from 'js-tiktoken/lite';
import cl100k from 'js-tiktoken/ranks/cl100k_base';

let encoder: Tiktoken | undefined;

/** cl100k_base token count; special tokens are encoded as plain text, like a user's prompt. */
export function countTokens(text: string): number {
  encoder ??= new Tiktoken(cl100k);
  return encoder.encode(text, [], []).length;
}

/**
 * OpenAI's chat rule, roughly: 3 per message + every string in it, + 3 to prime the reply;
 * plus every string of the tool schemas, which the chat template renders into the prompt.
 */
export function chatPromptTokens(messages: unknown[], tools?: unknown): number {
  let total = 3 + stringTokens(tools ?? []);
  for (const message of messages) total += 3 + stringTokens(message);
  return total;
}

/**
 * `text` cut at its cl100k token boundaries, as a model streams it; a character split across
 * tokens stays whole, in a piece worth those tokens.
 */
export function tokenPieces(text: string): { text: string; tokens: number }[] {
  encoder ??= new Tiktoken(cl100k);
  const ids = encoder.encode(text, [], []);
  const pieces: { text: string; tokens: number }[] = [];
  let start = 0;
  for (let end = 1; end <= ids.length; end++) {
    const piece = encoder.decode(ids.slice(start, end));
    if (piece.includes('\uFFFD') && end < ids.length) continue; // half a UTF-8 character: wait for the rest
    pieces.push({ text: piece, tokens: end - start });
    start = end;
  }
  return pieces;
}

function stringTokens(value: unknown): number {
  if (typeof value === 'string') return countTokens(value);
  if (Array.isArray(value)) return value.reduce<number>((sum, item) => sum + stringTokens(item), 0);
  if (value !== null && typeof value === 'object') return stringTokens(Object.values(value));
  return 0;
}

/**
 * Token counts of each prompt of a completions request (`string | string[] | number[] |
 * number[][]`, as the OpenAI API allows), or undefined when the shape is none of those.
 */
export function promptTokenCounts(prompt: unknown): number[] | undefined {
  if (typeof prompt === 'string') return [countTokens(prompt)];
  if (!Array.isArray(prompt) || prompt.length === 0) return undefined;
  if (prompt.every((p) => typeof p === 'number')) return [prompt.length];
  if (prompt.every((p) => typeof p === 'string')) return prompt.map((p: string) => countTokens(p));
  if (prompt.every((p) => Array.isArray(p) && p.every((id) => typeof id === 'number'))) {
    return prompt.map((p: number[]) => p.length);
  }
  return undefined;
}

export type VllmErrorType = 'BadRequestError' | 'NotFoundError' | 'InternalServerError' | 'ServiceUnavailableError';

/** vLLM's flat error body (not OpenAI's `{ error: {...} }` wrapper). */
export function vllmError(status: number, message: string, type: string = errorTypeFor(status)) {
  return { object: 'error', message, type, param: null, code: status };
}

function errorTypeFor(status: number): VllmErrorType {
  if (status === 404) return 'NotFoundError';
  if (status === 503) return 'ServiceUnavailableError';
  if (status >= 500) return 'InternalServerError';
  return 'BadRequestError';
}

/** vLLM's context-length text; it says "messages" for completions prompts too. */
export function contextLengthMessage(maxModelLen: number, promptTokens: number, maxTokens: number | undefined): string {
  const head = `This model's maximum context length is ${maxModelLen} tokens. However, you requested`;
  if (maxTokens === undefined) {
    return `${head} ${promptTokens} tokens in the messages, Please reduce the length of the messages.`;
  }
  return (
    `${head} ${promptTokens + maxTokens} tokens (${promptTokens} in the messages, ${maxTokens} in the completion). ` +
    'Please reduce the length of the messages or completion.'
  );
}

export function embeddingLengthMessage(maxModelLen: number, inputTokens: number): string {
  return (
    `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${inputTokens} tokens ` +
    'in the input for embedding generation. Please reduce the length of the input.'
  );
}

/** A usage report as sent: numbers when honest, anything at all when overridden. */
export interface Usage {
  prompt_tokens: unknown;
  total_tokens: unknown;
  completion_tokens: unknown;
  completion_tokens_details?: { reasoning_tokens: number };
}

/** Values reported instead of the true ones; a key that is present wins, whatever its value. */
export interface UsageOverride {
  prompt_tokens?: unknown;
  completion_tokens?: unknown;
  total_tokens?: unknown;
}

/**
 * vLLM's UsageInfo, in its field order; `completion_tokens_details` only when the model reasons
 * (vLLM adds it when a reasoning parser is configured).
 */
export function usage(promptTokens: number, completionTokens: number, override?: UsageOverride, reasoningTokens?: number): Usage {
  const prompt = override && 'prompt_tokens' in override ? override.prompt_tokens : promptTokens;
  const completion = override && 'completion_tokens' in override ? override.completion_tokens : completionTokens;
  const sum = typeof prompt === 'number' && typeof completion === 'number' ? prompt + completion : promptTokens + completionTokens;
  const total = override && 'total_tokens' in override ? override.total_tokens : sum;
  return {
    prompt_tokens: prompt,
    total_tokens: total,
    completion_tokens: completion,
    ...(reasoningTokens !== undefined && { completion_tokens_details: { reasoning_tokens: reasoningTokens } }),
  };
}

/** vLLM's tool call id (`make_tool_call_id`). */
export const toolCallId = () => `chatcmpl-tool-${randomUUID().replaceAll('-', '')}`;
export const newId = (prefix: 'chatcmpl' | 'cmpl' | 'embd') => `${prefix}-${randomUUID().replaceAll('-', '')}`;
export const unixNow = () => Math.floor(Date.now() / 1000);

/** A deterministic unit vector of 8 numbers derived from the input (FNV-1a seeded). */
export function fakeEmbedding(input: string): number[] {
  let hash = 0x811c9dc5;
  for (let i = 0; i < input.length; i++) hash = Math.imul(hash ^ input.charCodeAt(i), 0x01000193) >>> 0;
  const raw = Array.from({ length: 8 }, (_, i) => Math.sin(hash + i * 1.618) || 1e-3);
  const norm = Math.hypot(...raw);
  return raw.map((x) => x / norm);
}

/** Embedding inputs as texts (token-id inputs are keyed by their ids) with their token counts. */
export function embeddingInputs(input: unknown): { key: string; tokens: number }[] | undefined {
  if (typeof input === 'string') return [{ key: input, tokens: countTokens(input) }];
  const counts = promptTokenCounts(input);
  if (!counts || !Array.isArray(input)) return undefined;
  if (typeof input[0] === 'number') return [{ key: input.join(','), tokens: counts[0] ?? 0 }];
  return input.map((item, i) => ({
    key: typeof item === 'string' ? item : (item as number[]).join(','),
    tokens: counts[i] ?? 0,
  }));
}

export function modelList(names: Iterable<string>, maxModelLen: number, created: number) {
  return {
    object: 'list',
    data: [...names].map((id) => ({
      id,
      object: 'model',
      created,
      owned_by: 'vllm',
      root: id,
      parent: null,
      max_model_len: maxModelLen,
      permission: [],
    })),
  };
}
