import type { ChatRules } from './chat-rules';
import { addContentCost } from './content-parts';
import type { Counter } from './counter';
import { describeValue, uncountable } from './errors';
import { messageCache } from './message-cache';
import { countCost, countCostSync, countJson, PromptCost } from './prompt-cost';
import type { JsonLayout } from './render-json';

/**
 * What one message costs: the chat rules' overhead, plus every field a template may print.
 * `content` goes by the part allowlist; tool calls are dumped as JSON with their arguments
 * counted as sent or as re-dumped, whichever is more; other strings (role, name, tool_call_id,
 * reasoning, refusal…) as they are; any other value as JSON.
 */
export function messageCost(rules: ChatRules, message: unknown, param: string): PromptCost {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    throw uncountable(param, `${describeValue(message)}, not a message object`);
  }
  const cost = new PromptCost();
  cost.fixed = rules.tokensPerMessage;
  for (const [key, value] of Object.entries(message)) {
    if (value === null || value === undefined) continue;
    const at = `${param}.${key}`;
    if (key === 'content') addContentCost(cost, value, at);
    else if (key === 'tool_calls' && Array.isArray(value)) {
      cost.values.push({ value: value.map((call, i) => withoutArguments(cost, call, `${at}[${i}].function`)), param: at });
    } else if (key === 'function_call') cost.values.push({ value: withoutArguments(cost, { function: value }, at).function, param: at });
    else if (typeof value === 'string') cost.texts.push(value);
    else cost.values.push({ value, param: at });
    if (key === 'name') cost.fixed += rules.tokensPerName;
  }
  return cost;
}

/**
 * A tool call with its string `arguments` moved into `cost.arguments`: backends parse them and
 * templates dump them again (`"a":1` becomes `"a": 1.0`), which can cost more than as sent.
 */
function withoutArguments(cost: PromptCost, call: unknown, param: string): { function?: unknown } {
  if (typeof call !== 'object' || call === null) return call as { function?: unknown };
  const fn = (call as { function?: unknown }).function;
  if (typeof fn !== 'object' || fn === null || typeof (fn as { arguments?: unknown }).arguments !== 'string') return call;
  cost.arguments.push({ text: (fn as { arguments: string }).arguments, param: `${param}.arguments` });
  return { ...call, function: { ...fn, arguments: '' } };
}

/**
 * Tokens of one message, counted in one go.
 * @example countMessage(counter, chatRulesFor('cl100k_base', 'gpt-4'), { role: 'user', content: 'hi' }) // 3 + 1 + 1
 */
export function countMessage(
  counter: Counter,
  rules: ChatRules,
  message: unknown,
  param = 'message',
  layout: JsonLayout = 'indent',
): number {
  return countCostSync(counter, messageCost(rules, message, param), layout);
}

/**
 * countMessage through the message cache, counting big texts in slices that yield. Only
 * cacheable counters (real encodings) are cached, so a test double cannot poison real counts.
 */
export async function countMessageCached(
  counter: Counter,
  rules: ChatRules,
  message: unknown,
  param: string,
  layout: JsonLayout,
): Promise<number> {
  const key = counter.cacheable ? messageKey(counter, rules, layout, message) : undefined;
  const cached = key === undefined ? undefined : messageCache.get(key);
  if (cached !== undefined) return cached;
  const tokens = await countCost(counter, messageCost(rules, message, param), layout);
  if (key !== undefined) messageCache.set(key, tokens);
  return tokens;
}

/**
 * countJson through the same cache: clients re-send the same tools, documents and template
 * arguments every turn. Keys differ from message keys after the encoding (\u0002, not \u0001).
 */
export async function countJsonCached(counter: Counter, value: unknown, param: string, layout: JsonLayout): Promise<number> {
  const key = counter.cacheable ? serialised(`${counter.encoding}\u0002${layout}\u0002`, value) : undefined;
  const cached = key === undefined ? undefined : messageCache.get(key);
  if (cached !== undefined) return cached;
  const tokens = await countJson(counter, value, param, layout);
  if (key !== undefined) messageCache.set(key, tokens);
  return tokens;
}

function messageKey(counter: Counter, rules: ChatRules, layout: JsonLayout, message: unknown): string | undefined {
  const prefix = `${counter.encoding}\u0001${rules.tokensPerMessage},${rules.tokensPerName},${layout}`;
  return plainKey(prefix, message) ?? serialised(`${prefix}\u0001`, message);
}

/**
 * The key of the common message, `{ role, content }` (and `name`) with string values, without
 * serialising it: JSON.stringify of a long system prompt, on every request, cost about 8% of the
 * gateway's CPU on 30 KB bodies. Lengths keep the parts apart; \u0003 keeps these keys apart from
 * serialised ones (which go on with \u0001 and a '{'). Anything else: undefined.
 */
function plainKey(prefix: string, message: unknown): string | undefined {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return undefined;
  let role: unknown;
  let content: unknown;
  let name: unknown;
  for (const field in message) {
    const value = (message as Record<string, unknown>)[field];
    if (field === 'role') role = value;
    else if (field === 'content') content = value;
    else if (field === 'name') name = value;
    else return undefined;
  }
  if (typeof role !== 'string' || typeof content !== 'string' || (name !== undefined && typeof name !== 'string')) return undefined;
  if (content.length + 2 >= MAX_KEY_CHARS) return undefined;
  // An absent name counts differently from an empty one: '-' is not a length.
  return `${prefix}\u0003${role.length}:${role}${name === undefined ? '-' : `${name.length}:${name}`}${content}`;
}

/**
 * Values past this many characters (roughly) get no cache key: serialising a multi-megabyte
 * schema for a key would hold the event loop longer than counting it in slices does, and the
 * cache would refuse so large an entry anyway.
 */
const MAX_KEY_CHARS = 256 * 1024;

function serialised(prefix: string, value: unknown): string | undefined {
  if (!smallerThan(value, MAX_KEY_CHARS)) return undefined;
  try {
    return `${prefix}${JSON.stringify(value)}`;
  } catch {
    return undefined; // not serialisable (cycles, BigInt): count it, don't cache it
  }
}

/** Whether a value's JSON is (roughly) under `limit` characters; stops walking once past it. */
function smallerThan(value: unknown, limit: number): boolean {
  const pending: unknown[] = [value];
  let size = 0;
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next === 'string') size += next.length + 2;
    else if (Array.isArray(next)) {
      for (let i = 0; i < next.length && size < limit; i++, size++) pending.push(next[i]);
    } else if (typeof next === 'object' && next !== null) {
      for (const key in next) {
        if (size >= limit) break;
        size += key.length + 4;
        pending.push((next as Record<string, unknown>)[key]);
      }
    } else size += 8;
    if (size >= limit) return false;
  }
  return true;
}
