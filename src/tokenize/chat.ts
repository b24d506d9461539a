import { type Counter, countText } from './counter';
import { messageCache } from './message-cache';

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

/** What a message costs: texts to tokenize plus fixed tokens (overheads, image estimates). */
interface MessageCost {
  texts: string[];
  fixed: number;
}

function messageCost(rules: ChatRules, message: unknown): MessageCost {
  const cost: MessageCost = { texts: [], fixed: rules.tokensPerMessage };
  if (!isRecord(message)) {
    cost.texts.push(JSON.stringify(message) ?? '');
    return cost;
  }
  for (const [key, value] of Object.entries(message)) {
    if (value === null || value === undefined) continue;
    addValueCost(cost, value);
    if (key === 'name') cost.fixed += rules.tokensPerName;
  }
  return cost;
}

function addValueCost(cost: MessageCost, value: unknown): void {
  if (typeof value === 'string') cost.texts.push(value);
  else if (Array.isArray(value) && value.every(isRecord) && value.some((part) => 'type' in part)) {
    for (const part of value) addContentPartCost(cost, part);
  } else cost.texts.push(JSON.stringify(value) ?? '');
}

function addContentPartCost(cost: MessageCost, part: Record<string, unknown>): void {
  if (part.type === 'text' && typeof part.text === 'string') cost.texts.push(part.text);
  else if (part.type === 'image_url') {
    const detail = isRecord(part.image_url) ? part.image_url.detail : undefined;
    cost.fixed += detail === 'low' ? IMAGE_TOKENS_LOW : IMAGE_TOKENS_HIGH;
  } else cost.texts.push(JSON.stringify(part));
}

export function countMessage(counter: Counter, rules: ChatRules, message: unknown): number {
  const cost = messageCost(rules, message);
  return cost.texts.reduce((sum, text) => sum + counter.count(text), cost.fixed);
}

/**
 * countMessage through the message cache, counting big texts in slices that yield. Only
 * cacheable counters (real encodings) are cached: a test double must not poison real counts.
 */
async function countMessageCached(counter: Counter, rules: ChatRules, message: unknown): Promise<number> {
  const key = counter.cacheable ? messageKey(counter, rules, message) : undefined;
  const cached = key === undefined ? undefined : messageCache.get(key);
  if (cached !== undefined) return cached;
  const cost = messageCost(rules, message);
  let tokens = cost.fixed;
  for (const text of cost.texts) tokens += await countText(counter, text);
  if (key !== undefined) messageCache.set(key, tokens);
  return tokens;
}

function messageKey(counter: Counter, rules: ChatRules, message: unknown): string | undefined {
  try {
    return `${counter.encoding}\u0001${rules.tokensPerMessage},${rules.tokensPerName}\u0001${JSON.stringify(message)}`;
  } catch {
    return undefined; // not serialisable (cycles, BigInt): count it, don't cache it
  }
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
  for (const message of input.messages) tokens += await countMessageCached(counter, rules, message);
  tokens += countToolDefinitions(counter, rules, input.tools ?? input.functions ?? []);
  return tokens;
}

/**
 * Tokens of a completions `prompt` or embeddings `input`: a string, a list of strings, a list of
 * token ids, or a list of such lists. Plain text count; no chat overhead.
 */
export async function countTextInput(counter: Counter, input: unknown): Promise<number> {
  if (typeof input === 'string') return countText(counter, input);
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
