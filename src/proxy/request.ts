import { badRequest } from '../errors';
import type { Endpoint } from '../usage/types';
import { isRecord } from './usage';

/** What the gateway needs from a client's body; the body itself is forwarded untouched. */
export interface ProxyRequest {
  endpoint: Endpoint;
  body: Record<string, unknown>;
  model: string;
  stream: boolean;
  /** The client asked for the usage chunk (`stream_options.include_usage`). */
  includeUsage: boolean;
  requestedMaxTokens: number | undefined;
  /** Which field carried the cap, so the effective value goes back in the same one. */
  maxTokensField: 'max_tokens' | 'max_completion_tokens';
  /** Choices per request; the worst case is `n` completions. */
  choices: number;
}

export const UPSTREAM_PATH: Record<Endpoint, string> = {
  'chat.completions': '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
};

/** Checks the fields the gateway relies on, with OpenAI's 400 wording; everything else passes through. */
export function parseProxyRequest(endpoint: Endpoint, json: unknown): ProxyRequest {
  if (!isRecord(json)) throw badRequest('The request body must be a JSON object.');
  const model = json.model;
  if (model === undefined || model === null) throw badRequest("Missing required parameter: 'model'.", 'model', 'missing_required_parameter');
  if (typeof model !== 'string' || model.length === 0) throw badRequest("Invalid type for 'model': expected a non-empty string.", 'model', 'invalid_type');

  if (endpoint === 'chat.completions') {
    const messages = json.messages;
    if (messages === undefined) throw badRequest("Missing required parameter: 'messages'.", 'messages', 'missing_required_parameter');
    if (!Array.isArray(messages)) throw badRequest("Invalid type for 'messages': expected an array.", 'messages', 'invalid_type');
    if (messages.length === 0) throw badRequest("Invalid 'messages': empty array. Expected an array with minimum length 1.", 'messages', 'empty_array');
    messages.forEach((message, i) => {
      if (!isRecord(message) || typeof message.role !== 'string') {
        throw badRequest(`Invalid 'messages[${i}]': expected an object with a string 'role'.`, `messages[${i}]`, 'invalid_type');
      }
    });
    for (const field of ['tools', 'functions'] as const) {
      if (json[field] !== undefined && json[field] !== null && !Array.isArray(json[field])) {
        throw badRequest(`Invalid type for '${field}': expected an array.`, field, 'invalid_type');
      }
    }
  } else {
    const field = endpoint === 'completions' ? 'prompt' : 'input';
    const value = json[field];
    if (value === undefined || value === null) throw badRequest(`Missing required parameter: '${field}'.`, field, 'missing_required_parameter');
    if (!isTextInput(value)) {
      throw badRequest(`Invalid type for '${field}': expected a string, an array of strings, an array of token ids, or an array of such arrays.`, field, 'invalid_type');
    }
  }

  const stream = optionalBoolean(json, 'stream') ?? false;
  if (stream && endpoint === 'embeddings') throw badRequest("'stream' is not supported for embeddings.", 'stream', 'invalid_value');
  const streamOptions = json.stream_options;
  if (streamOptions !== undefined && streamOptions !== null && !isRecord(streamOptions)) {
    throw badRequest("Invalid type for 'stream_options': expected an object.", 'stream_options', 'invalid_type');
  }
  const includeUsage = stream && isRecord(streamOptions) && streamOptions.include_usage === true;

  const maxCompletion = optionalCount(json, 'max_completion_tokens');
  const maxTokens = optionalCount(json, 'max_tokens');
  const choices = optionalCount(json, 'n') ?? 1;
  if (choices < 1 || choices > 128) throw badRequest("Invalid 'n': must be between 1 and 128.", 'n', 'invalid_value');
  const requested = maxCompletion ?? maxTokens;
  if (requested !== undefined && requested < 1) {
    throw badRequest(`Invalid '${maxCompletion !== undefined ? 'max_completion_tokens' : 'max_tokens'}': must be at least 1.`, maxCompletion !== undefined ? 'max_completion_tokens' : 'max_tokens', 'invalid_value');
  }
  return {
    endpoint,
    body: json,
    model,
    stream,
    includeUsage,
    requestedMaxTokens: endpoint === 'embeddings' ? 0 : requested,
    maxTokensField: maxCompletion !== undefined ? 'max_completion_tokens' : 'max_tokens',
    choices: endpoint === 'embeddings' ? 1 : choices,
  };
}

function optionalBoolean(json: Record<string, unknown>, field: string): boolean | undefined {
  const value = json[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw badRequest(`Invalid type for '${field}': expected a boolean.`, field, 'invalid_type');
  return value;
}

function optionalCount(json: Record<string, unknown>, field: string): number | undefined {
  const value = json[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw badRequest(`Invalid type for '${field}': expected an integer.`, field, 'invalid_type');
  return value;
}

function isTextInput(value: unknown): boolean {
  if (typeof value === 'string') return true;
  if (!Array.isArray(value) || value.length === 0) return false;
  if (value.every((item) => typeof item === 'string')) return true;
  if (value.every((item) => Number.isInteger(item))) return true;
  return value.every((item) => Array.isArray(item) && item.every((id) => Number.isInteger(id)));
}
