import type { Context, MiddlewareHandler } from 'hono';
import type { HonoEnv } from '../deps';
import { badRequest } from '../errors';
import { tooLarge } from './io';

const DEFAULT_LIMIT = 64 * 1024;

/**
 * The body limit of the routes below: a declared Content-Length over it is refused with 413
 * before anything is read, and `readJson` refuses a body (chunked or lying) that grows past it.
 */
export function limitBody(maxBytes: number): MiddlewareHandler<HonoEnv> {
  return async function limitBodyMiddleware(c, next) {
    const declared = c.get('deps').io.header(c, 'content-length');
    if (declared !== undefined && Number(declared) > maxBytes) throw tooLarge(maxBytes);
    c.set('bodyLimit', maxBytes);
    return next();
  };
}

export async function readJson(c: Context<HonoEnv>): Promise<unknown> {
  const text = await c.get('deps').io.bodyText(c, c.get('bodyLimit') ?? DEFAULT_LIMIT);
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest(
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)",
      null,
      'invalid_json',
    );
  }
}
