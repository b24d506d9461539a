import { badRequest } from '../errors';

/** Deeper JSON than any real request nests; refused before anything walks it. */
export const MAX_JSON_DEPTH = 64;

/** The nesting depth of a parsed JSON value, measured without recursion (stops counting past `limit`). */
export function jsonDepth(value: unknown, limit = MAX_JSON_DEPTH): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== 'object' || item === null) continue;
    if (depth > deepest) deepest = depth;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(item) ? item : Object.values(item)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return deepest;
}

export function checkDepth(value: unknown): void {
  if (jsonDepth(value) > MAX_JSON_DEPTH) {
    throw badRequest(`The request body nests deeper than ${MAX_JSON_DEPTH} levels, which no valid request does.`, null, 'invalid_value');
  }
}

// C0 and C1 controls (NUL included): refused in names, ids and model names.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export function hasControlCharacters(text: string): boolean {
  return CONTROL.test(text);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
