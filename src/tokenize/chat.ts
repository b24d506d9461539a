import type { Counter } from './counter';

/**
 * Chat prompt counting by OpenAI's published rules (the cookbook's num_tokens_from_messages):
 * every message costs a fixed overhead plus its fields' tokens, a `name` adds one more, and the
 * reply is primed with 3 tokens. Tools and images use the published approximations, so counts
 * for requests that carry them are estimates.
 */
export interface ChatRules {
  tokensPerMessage: number;
  tokensPerName: number;
  replyPriming: number;
  /** Tool-definition overheads (cookbook's num_tokens_for_tools). */
  tools: { funcInit: number; propInit: number; propKey: number; enumInit: number; enumItem: number; funcEnd: number };
}

const MODERN_TOOLS = { funcInit: 7, propInit: 3, propKey: 3, enumInit: -3, enumItem: 3, funcEnd: 12 };
const LEGACY_TOOLS = { funcInit: 10, propInit: 3, propKey: 3, enumInit: -3, enumItem: 3, funcEnd: 12 };

export function chatRulesFor(encoding: Counter['encoding'], model = ''): ChatRules {
  if (/0301/.test(model)) return { tokensPerMessage: 4, tokensPerName: -1, replyPriming: 3, tools: LEGACY_TOOLS };
  return { tokensPerMessage: 3, tokensPerName: 1, replyPriming: 3, tools: encoding === 'o200k_base' ? MODERN_TOOLS : LEGACY_TOOLS };
}

/** Published estimate for an image part: 85 tokens at low detail, a 1024×1024 high-detail image otherwise. */
export const IMAGE_TOKENS_LOW = 85;
export const IMAGE_TOKENS_HIGH = 765;

export interface ChatPromptInput {
  messages: unknown[];
  tools?: unknown[] | undefined;
  functions?: unknown[] | undefined;
}

export function countMessage(counter: Counter, rules: ChatRules, message: unknown): number {
  let tokens = rules.tokensPerMessage;
  if (!isRecord(message)) return tokens + counter.count(JSON.stringify(message) ?? '');
  for (const [key, value] of Object.entries(message)) {
    if (value === null || value === undefined) continue;
    tokens += countValue(counter, value);
    if (key === 'name') tokens += rules.tokensPerName;
  }
  return tokens;
}

function countValue(counter: Counter, value: unknown): number {
  if (typeof value === 'string') return counter.count(value);
  if (Array.isArray(value) && value.every(isRecord) && value.some((part) => 'type' in part)) {
    return value.reduce<number>((sum, part) => sum + countContentPart(counter, part), 0);
  }
  return counter.count(JSON.stringify(value) ?? '');
}

function countContentPart(counter: Counter, part: Record<string, unknown>): number {
  if (part.type === 'text' && typeof part.text === 'string') return counter.count(part.text);
  if (part.type === 'image_url') {
    const detail = isRecord(part.image_url) ? part.image_url.detail : undefined;
    return detail === 'low' ? IMAGE_TOKENS_LOW : IMAGE_TOKENS_HIGH;
  }
  return counter.count(JSON.stringify(part));
}

export function countToolDefinitions(counter: Counter, rules: ChatRules, tools: unknown[]): number {
  if (tools.length === 0) return 0;
  const t = rules.tools;
  let tokens = 0;
  for (const tool of tools) {
    const fn = isRecord(tool) && isRecord(tool.function) ? tool.function : isRecord(tool) ? tool : {};
    tokens += t.funcInit;
    const description = typeof fn.description === 'string' ? fn.description.replace(/\.$/, '') : '';
    tokens += counter.count(`${String(fn.name ?? '')}:${description}`);
    const parameters = isRecord(fn.parameters) ? fn.parameters : {};
    const properties = isRecord(parameters.properties) ? parameters.properties : {};
    const keys = Object.keys(properties);
    if (keys.length > 0) {
      tokens += t.propInit;
      for (const key of keys) {
        const prop = isRecord(properties[key]) ? (properties[key] as Record<string, unknown>) : {};
        tokens += t.propKey;
        if (Array.isArray(prop.enum)) {
          tokens += t.enumInit;
          for (const item of prop.enum) tokens += t.enumItem + counter.count(String(item));
        }
        const type = typeof prop.type === 'string' ? prop.type : JSON.stringify(prop.type ?? '');
        const desc = typeof prop.description === 'string' ? prop.description.replace(/\.$/, '') : '';
        tokens += counter.count(`${key}:${type}:${desc}`);
      }
    }
  }
  return tokens + t.funcEnd;
}

/** Prompt tokens of a chat request: messages, reply priming, and tool/function definitions. */
export async function countChatPrompt(counter: Counter, input: ChatPromptInput, model = ''): Promise<number> {
  const rules = chatRulesFor(counter.encoding, model);
  let tokens = rules.replyPriming;
  for (const message of input.messages) tokens += countMessage(counter, rules, message);
  tokens += countToolDefinitions(counter, rules, input.tools ?? input.functions ?? []);
  return tokens;
}

/**
 * Tokens of a completions `prompt` or embeddings `input`: a string, a list of strings, a list of
 * token ids, or a list of such lists. Plain text count; no chat overhead.
 */
export async function countTextInput(counter: Counter, input: unknown): Promise<number> {
  if (typeof input === 'string') return counter.count(input);
  if (Array.isArray(input)) {
    if (input.every((item) => typeof item === 'number')) return input.length;
    let tokens = 0;
    for (const item of input) tokens += await countTextInput(counter, item);
    return tokens;
  }
  return 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
