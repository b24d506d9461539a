import { badRequest } from '../errors';
import type { Endpoint } from '../ledger/statuses';
import { checkDepth, hasControlCharacters, isRecord } from './shape';

/** What the gateway needs from a client's body; the body itself is forwarded (with the caps set). */
export interface ProxyRequest {
  endpoint: Endpoint;
  body: Record<string, unknown>;
  model: string;
  stream: boolean;
  /** The client asked for the usage chunk (`stream_options.include_usage`). */
  includeUsage: boolean;
  requestedMaxTokens: number | undefined;
  /** Which field carried the cap (chat), so the effective value goes back in it too. */
  maxTokensField: 'max_tokens' | 'max_completion_tokens';
  /** Sequences generated per prompt: `n`, or `best_of` when larger (all are generated, `n` returned). */
  choices: number;
  /** The OpenAI `user` field, recorded as the `user` tag. */
  user: string | undefined;
}

export const UPSTREAM_PATH: Record<Endpoint, string> = {
  'chat.completions': '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
};

/**
 * Fields the gateway cannot bound, refused with a 400 so the request never reaches the backend:
 * what they make the backend read or generate is not visible in the request's own text.
 */
export const REFUSED_FIELDS: Readonly<Record<string, string>> = {
  chat_template: 'a request-supplied chat template can render any amount of text the gateway cannot count',
  prompt_embeds: 'prompt embeddings cannot be counted as tokens',
  kv_transfer_params: 'KV-cache transfer parameters are for the operator, not for applications',
  ec_transfer_params: 'encoder-cache transfer parameters are for the operator, not for applications',
  mm_processor_kwargs: 'multimodal processor arguments change how many tokens an image costs',
  media_io_kwargs: 'media loading arguments change how many tokens a media part costs',
  vllm_xargs: 'extension arguments can change generation in ways the gateway cannot bound',
};

export const MAX_CHOICES = 128;

/** Checks the fields the gateway relies on, with OpenAI's 400 wording; other fields pass through. */
export function parseProxyRequest(endpoint: Endpoint, json: unknown): ProxyRequest {
  if (!isRecord(json)) throw badRequest('The request body must be a JSON object.');
  checkDepth(json);
  const model = json.model;
  if (model === undefined || model === null)
    throw badRequest("Missing required parameter: 'model'.", 'model', 'missing_required_parameter');
  if (typeof model !== 'string' || model.length === 0 || model.length > 256 || hasControlCharacters(model)) {
    throw badRequest(
      "Invalid 'model': expected a non-empty string of at most 256 characters, without control characters.",
      'model',
      'invalid_type',
    );
  }
  for (const [field, reason] of Object.entries(REFUSED_FIELDS)) {
    if (json[field] !== undefined && json[field] !== null) {
      throw badRequest(`The parameter '${field}' is not accepted by this gateway: ${reason}.`, field, 'unsupported_parameter');
    }
  }
  if (json.echo !== undefined && json.echo !== null && json.echo !== false) {
    throw badRequest(
      "The parameter 'echo' is not accepted by this gateway: echoed prompt text cannot be told apart from generated text when billing.",
      'echo',
      'unsupported_parameter',
    );
  }

  if (endpoint === 'chat.completions') checkChat(json);
  else {
    const field = endpoint === 'completions' ? 'prompt' : 'input';
    const value = json[field];
    if (value === undefined || value === null)
      throw badRequest(`Missing required parameter: '${field}'.`, field, 'missing_required_parameter');
    if (!isTextInput(value)) {
      throw badRequest(
        `Invalid type for '${field}': expected a string, an array of strings, an array of token ids, or an array of such arrays.`,
        field,
        'invalid_type',
      );
    }
    if (endpoint === 'completions' && json.suffix !== undefined && json.suffix !== null && typeof json.suffix !== 'string') {
      throw badRequest("Invalid type for 'suffix': expected a string.", 'suffix', 'invalid_type');
    }
  }

  const stream = optionalBoolean(json, 'stream') ?? false;
  if (stream && endpoint === 'embeddings') throw badRequest("'stream' is not supported for embeddings.", 'stream', 'invalid_value');
  const streamOptions = json.stream_options;
  if (streamOptions !== undefined && streamOptions !== null && !isRecord(streamOptions)) {
    throw badRequest("Invalid type for 'stream_options': expected an object.", 'stream_options', 'invalid_type');
  }
  const includeUsage = stream && isRecord(streamOptions) && streamOptions.include_usage === true;
  const user = json.user;
  if (user !== undefined && user !== null && typeof user !== 'string')
    throw badRequest("Invalid type for 'user': expected a string.", 'user', 'invalid_type');

  // Chat backends read max_completion_tokens first, then max_tokens (vLLM), and so does the gateway.
  // Completions backends read only max_tokens (upstreamBody sends the cap there), but a client's
  // max_completion_tokens is still the cap it asked for: the smaller of the two holds.
  const maxCompletion = optionalCount(json, 'max_completion_tokens');
  const maxTokens = optionalCount(json, 'max_tokens');
  const capField =
    maxCompletion !== undefined && (endpoint === 'chat.completions' || maxTokens === undefined || maxCompletion < maxTokens)
      ? 'max_completion_tokens'
      : 'max_tokens';
  const requested = capField === 'max_completion_tokens' ? maxCompletion : maxTokens;
  if (requested !== undefined && requested < 1) throw badRequest(`Invalid '${capField}': must be at least 1.`, capField, 'invalid_value');
  const n = optionalCount(json, 'n') ?? 1;
  if (n < 1 || n > MAX_CHOICES) throw badRequest(`Invalid 'n': must be between 1 and ${MAX_CHOICES}.`, 'n', 'invalid_value');
  const bestOf = optionalCount(json, 'best_of') ?? n;
  if (bestOf < 1 || bestOf > MAX_CHOICES)
    throw badRequest(`Invalid 'best_of': must be between 1 and ${MAX_CHOICES}.`, 'best_of', 'invalid_value');
  return {
    endpoint,
    body: json,
    model,
    stream,
    includeUsage,
    requestedMaxTokens: endpoint === 'embeddings' ? 0 : requested,
    maxTokensField: capField,
    choices: endpoint === 'embeddings' ? 1 : Math.max(n, bestOf),
    user: typeof user === 'string' ? user : undefined,
  };
}

function checkChat(json: Record<string, unknown>): void {
  const messages = json.messages;
  if (messages === undefined) throw badRequest("Missing required parameter: 'messages'.", 'messages', 'missing_required_parameter');
  if (!Array.isArray(messages)) throw badRequest("Invalid type for 'messages': expected an array.", 'messages', 'invalid_type');
  if (messages.length === 0)
    throw badRequest("Invalid 'messages': empty array. Expected an array with minimum length 1.", 'messages', 'empty_array');
  messages.forEach((message, i) => {
    if (!isRecord(message) || typeof message.role !== 'string') {
      throw badRequest(`Invalid 'messages[${i}]': expected an object with a string 'role'.`, `messages[${i}]`, 'invalid_type');
    }
  });
  for (const field of ['tools', 'functions'] as const) {
    const list = json[field];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) throw badRequest(`Invalid type for '${field}': expected an array.`, field, 'invalid_type');
    list.forEach((tool, i) => {
      const fn = field === 'tools' && isRecord(tool) ? tool.function : tool;
      if (!isRecord(fn) || typeof fn.name !== 'string') {
        throw badRequest(
          `Invalid '${field}[${i}]': expected ${field === 'tools' ? "an object with a 'function' that has" : 'an object with'} a string 'name'.`,
          `${field}[${i}]`,
          'invalid_type',
        );
      }
    });
  }
  for (const field of ['documents', 'chat_template_kwargs'] as const) {
    const value = json[field];
    if (value !== undefined && value !== null && !(field === 'documents' ? Array.isArray(value) : isRecord(value))) {
      throw badRequest(`Invalid type for '${field}': expected ${field === 'documents' ? 'an array' : 'an object'}.`, field, 'invalid_type');
    }
  }
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
  if (typeof value !== 'number' || !Number.isSafeInteger(value))
    throw badRequest(`Invalid type for '${field}': expected an integer.`, field, 'invalid_type');
  return value;
}

function isTextInput(value: unknown): boolean {
  if (typeof value === 'string') return true;
  if (!Array.isArray(value) || value.length === 0) return false;
  if (value.every((item) => typeof item === 'string')) return true;
  if (value.every((item) => isTokenId(item))) return true;
  return value.every((item) => Array.isArray(item) && item.length > 0 && item.every(isTokenId));
}

const isTokenId = (id: unknown) => typeof id === 'number' && Number.isSafeInteger(id) && id >= 0;
