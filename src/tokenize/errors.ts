/**
 * Input whose prompt tokens cannot be bounded (an audio or video part, an unknown part type, a
 * malformed part, a client-supplied chat template, a bad token id): counting it as zero would
 * let a client past the context window and the reservation, so it is refused instead. `param`
 * names the offending field the OpenAI way, for the 400's `param`.
 *
 * @example
 * try { await countChatRequest(counter, body) }
 * catch (e) { if (e instanceof UncountableInputError) throw new GatewayError(400, e.message, { param: e.param }) }
 */
export class UncountableInputError extends Error {
  override readonly name = 'UncountableInputError';

  constructor(
    readonly param: string,
    message: string,
  ) {
    super(message);
  }
}

/** The common message shape: what the field is, and that it is refused because it cannot be counted. */
export function uncountable(param: string, what: string): UncountableInputError {
  return new UncountableInputError(param, `${param} is ${what}: its tokens cannot be counted, so the request is refused.`);
}

/** What a JSON value is, for messages: "a number", "a list", "null". */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (value === undefined) return 'missing';
  return `a ${typeof value}`;
}
