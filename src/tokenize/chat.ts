import { type ChatRules, chatRulesFor } from './chat-rules';
import type { Counter } from './counter';
import { uncountable } from './errors';
import { countJsonCached, countMessageCached } from './message';
import { PromptCost } from './prompt-cost';
import type { JsonLayout } from './render-json';
import { yieldToEventLoop } from './yield';

/**
 * Template wording around a tools, functions or documents section: the fixed preamble ("You
 * have access to the following functions…", ~45–100 tokens in Llama 3.x, Qwen2.5, Hermes), and
 * per item its separators and wrappers (`\n\n`, `<tool>`, "Document: 3"). Allowances, not
 * bounds: a template whose fixed wording is longer needs a per-model overhead in the config.
 */
export const SECTION_TOKENS = 100;
export const ITEM_TOKENS = 8;

/** Request fields a template renders as a list section. */
const SECTIONS = ['tools', 'functions', 'documents'] as const;
/** Messages counted between yields (each may be a cache hit that never yields by itself). */
const MESSAGES_PER_SLICE = 256;

export interface ChatCountOptions {
  /** Per-message rules; default chatRulesFor(encoding, model). A model whose template wraps
   * messages in more than the 3 tokens OpenAI's format does can be given its own. */
  rules?: ChatRules;
  /** How the template dumps JSON: `indent` (default) bounds every common template; `compact`
   * is tighter for templates known to dump compactly (see render-json.ts). */
  jsonLayout?: JsonLayout;
}

/**
 * Prompt tokens of a whole chat request body: every message (all its fields and content parts),
 * reply priming, and everything else the backend's chat template renders: `tools` and
 * `functions` (both: `functions` beside an empty `tools` still counts), an object `tool_choice`
 * or `function_call`, `documents`, `chat_template_kwargs`, and a `response_format` that carries
 * a schema. Those are counted as JSON in the most generous common layout (see render-json.ts)
 * plus the section allowances above. Throws UncountableInputError for what cannot be bounded: a
 * client-supplied chat template, audio/video/unknown/malformed content parts, numbers past the
 * double range, values nested more than 256 levels deep.
 *
 * @example
 * const counter = await loadCounter('cl100k_base');
 * const promptTokens = await countChatRequest(counter, body, 'llama-3.1-8b'); // body: the parsed JSON
 */
export async function countChatRequest(
  counter: Counter,
  body: Record<string, unknown>,
  model = '',
  options: ChatCountOptions = {},
): Promise<number> {
  const rules = options.rules ?? chatRulesFor(counter.encoding, model);
  const layout = options.jsonLayout ?? 'indent';
  refuseClientTemplate(body.chat_template, 'chat_template');
  const messages = body.messages;
  if (!Array.isArray(messages)) throw uncountable('messages', 'not a list of messages');
  let tokens = rules.replyPriming;
  for (let i = 0; i < messages.length; i++) {
    tokens += await countMessageCached(counter, rules, messages[i], `messages[${i}]`, layout);
    if (i % MESSAGES_PER_SLICE === MESSAGES_PER_SLICE - 1) await yieldToEventLoop();
  }
  const fields = renderedFieldsCost(body);
  tokens += fields.fixed;
  for (const { value, param } of fields.values) tokens += await countJsonCached(counter, value, param, layout);
  return tokens;
}

/** The request fields outside `messages` that templates render. */
function renderedFieldsCost(body: Record<string, unknown>): PromptCost {
  const cost = new PromptCost();
  for (const field of SECTIONS) {
    const value = body[field];
    if (value === null || value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    cost.values.push({ value, param: field });
    cost.fixed += SECTION_TOKENS + ITEM_TOKENS * (Array.isArray(value) ? value.length : 1);
  }
  for (const field of ['tool_choice', 'function_call']) {
    if (isRecord(body[field])) cost.values.push({ value: body[field], param: field }); // "auto"/"none" print nothing
  }
  const kwargs = body.chat_template_kwargs;
  if (kwargs !== null && kwargs !== undefined) {
    // vLLM lets these override the template's variables, `tools` and `documents` included.
    if (isRecord(kwargs)) refuseClientTemplate(kwargs.chat_template, 'chat_template_kwargs.chat_template');
    cost.values.push({ value: kwargs, param: 'chat_template_kwargs' });
    cost.fixed += ITEM_TOKENS * (isRecord(kwargs) ? Object.keys(kwargs).length : 1);
  }
  const format = body.response_format;
  if (isRecord(format) && Object.keys(format).some((key) => key !== 'type')) cost.values.push({ value: format, param: 'response_format' });
  return cost;
}

/** A template is a program: it may print any field any number of times, so no count bounds it. */
function refuseClientTemplate(template: unknown, param: string): void {
  if (template === null || template === undefined || template === '') return;
  throw uncountable(param, 'a chat template supplied by the client (a program that may print any text any number of times)');
}

/** The fields of a chat request that countChatPrompt reads. */
export interface ChatPromptInput {
  messages: unknown[];
  tools?: unknown[] | undefined;
  functions?: unknown[] | undefined;
}

/**
 * countChatRequest over the messages, tools and functions only.
 * @deprecated Pass the whole body to countChatRequest, which also counts documents, template
 * arguments and response schemas.
 */
export function countChatPrompt(counter: Counter, input: ChatPromptInput, model = ''): Promise<number> {
  return countChatRequest(counter, { messages: input.messages, tools: input.tools, functions: input.functions }, model);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
