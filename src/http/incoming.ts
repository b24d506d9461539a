import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import type { HonoEnv } from '../deps';
import { GatewayError } from '../errors';
import { readAll } from '../runtime/read-all';

// The hot path's view of the client request. On Node (@hono/node-server) it reads the body and
// watches the connection on the node:http objects themselves: going through the web Request
// builds a Request, a ReadableStream and an AbortController per request, which measured as a
// large share of the gateway's CPU. Everywhere else (Workers) it uses the standard Request.

interface NodeBindings {
  incoming: IncomingMessage;
  outgoing: ServerResponse;
}

function nodeBindings(c: Context<HonoEnv>): NodeBindings | null {
  const env = c.env as Partial<NodeBindings> | undefined;
  return env?.incoming && env.outgoing && typeof env.incoming.on === 'function' ? (env as NodeBindings) : null;
}

export const tooLarge = (maxBytes: number) =>
  new GatewayError(413, `The request body is larger than the limit of ${maxBytes} bytes.`, { code: 'request_too_large' });

/**
 * The request body as text (UTF-8, a leading BOM dropped, as `Request.text()` does), refused
 * with 413 as soon as it grows past `maxBytes`, whatever its Content-Length said.
 */
export async function readBodyText(c: Context<HonoEnv>, maxBytes: number): Promise<string> {
  const node = nodeBindings(c);
  const bytes = node && !node.incoming.readableEnded && node.incoming.listenerCount('data') === 0
    ? await readAll(node.incoming, {
        maxBytes,
        tooLarge: () => tooLarge(maxBytes),
        closedEarly: () => new Error('the client closed the connection before sending the whole body'),
      })
    : await readWebBody(c.req.raw, maxBytes);
  return new TextDecoder().decode(bytes);
}

async function readWebBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/**
 * Aborted when the client goes away before the response is finished: the request's own signal,
 * or on Node one wired to the connection, with @hono/node-server's rule (closed before finishing).
 */
export function clientSignal(c: Context<HonoEnv>): AbortSignal {
  const node = nodeBindings(c);
  if (!node) return c.req.raw.signal;
  const { incoming, outgoing } = node;
  const controller = new AbortController();
  const onClose = () => {
    if (incoming.errored) controller.abort(incoming.errored.toString());
    else if (!outgoing.writableFinished) controller.abort('Client connection prematurely closed.');
  };
  if (outgoing.closed) onClose();
  else outgoing.once('close', onClose);
  return controller.signal;
}
