import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { HonoEnv } from '../deps';
import { GatewayError, badRequest } from '../errors';

/** 413 before parsing, for a Content-Length over the limit and for chunked bodies that grow past it. */
export function limitBody(maxBytes: number) {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new GatewayError(413, `The request body is larger than the limit of ${maxBytes} bytes.`, { code: 'request_too_large' });
    },
  });
}

export async function readJson(c: Context<HonoEnv>): Promise<unknown> {
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest(
      'We could not parse the JSON body of your request. (HINT: This likely means you aren\'t using your HTTP library correctly. The OpenAI API expects a JSON payload.)',
      null,
      'invalid_json',
    );
  }
}
