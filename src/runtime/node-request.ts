import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import { Canceller } from '../cancel';
import type { HonoEnv, RequestIO } from '../deps';
import { tooLarge, webRequestIO, webResponse } from '../http/io';
import type { TextStream } from '../proxy/relay';
import { readAll } from './read-all';

// The hot path's view of the client request on Node (@hono/node-server): headers, body and the
// connection read on the node:http objects themselves, and the proxied answer written straight
// to the node:http response. Going through the web Request and Response builds a Request, a
// Headers, a Response and ReadableStreams per request (and sends a stream's head in a packet of
// its own), which measured as a large share of the gateway's CPU. Installed by the Node entry;
// anything without node:http bindings (an `app.request` call) falls back to the web objects.

interface NodeBindings {
  incoming: IncomingMessage;
  outgoing: ServerResponse;
}

function nodeBindings(c: Context<HonoEnv>): NodeBindings | null {
  const env = c.env as Partial<NodeBindings> | undefined;
  return env?.incoming && env.outgoing && typeof env.incoming.on === 'function' ? (env as NodeBindings) : null;
}

export const nodeRequestIO: RequestIO = {
  /** node:http's parsed headers: no web Headers object is built. */
  header(c, name) {
    const node = nodeBindings(c);
    if (!node) return webRequestIO.header(c, name);
    const value = node.incoming.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  },

  /** UTF-8, a leading BOM dropped (as `Request.text()` does), 413 as soon as it grows past `maxBytes`. */
  async bodyText(c, maxBytes) {
    const node = nodeBindings(c);
    if (!node || node.incoming.readableEnded || node.incoming.listenerCount('data') > 0) return webRequestIO.bodyText(c, maxBytes);
    const bytes = await readAll(node.incoming, {
      maxBytes,
      tooLarge: () => tooLarge(maxBytes),
      closedEarly: () => new Error('the client closed the connection before sending the whole body'),
    });
    return new TextDecoder().decode(bytes);
  },

  /** Wired to the connection with @hono/node-server's rule: closed before the response finished. */
  clientSignal(c) {
    const node = nodeBindings(c);
    if (!node) return webRequestIO.clientSignal(c);
    const { incoming, outgoing } = node;
    const controller = new Canceller();
    const onClose = () => {
      if (incoming.errored) controller.abort(incoming.errored.toString());
      else if (!outgoing.writableFinished) controller.abort('Client connection prematurely closed.');
    };
    if (outgoing.closed) onClose();
    else outgoing.once('close', onClose);
    return controller;
  },

  /**
   * Writes the answer on the node:http response: a JSON body in one write with its head, a stream
   * piece by piece (its head going with the first piece), waiting for the client to drain when it
   * reads slower than the backend writes. A client that leaves is seen through `clientSignal`.
   */
  respond(c, reply) {
    const node = nodeBindings(c);
    if (!node || node.outgoing.headersSent) return webResponse(reply);
    const { outgoing } = node;
    if ('body' in reply) {
      reply.headers['content-length'] = String(Buffer.byteLength(reply.body));
      outgoing.writeHead(reply.status, reply.headers);
      outgoing.end(reply.body);
    } else {
      outgoing.writeHead(reply.status, reply.headers);
      pump(reply.stream, outgoing).catch((error: unknown) => outgoing.destroy(error instanceof Error ? error : new Error(String(error))));
    }
    return alreadySent(reply.status);
  },
};

async function pump(stream: TextStream, outgoing: ServerResponse): Promise<void> {
  for (;;) {
    const text = await stream.next();
    if (text === null) break;
    if (outgoing.destroyed) return stream.cancel();
    if (!outgoing.write(text)) await drained(outgoing);
  }
  if (!outgoing.destroyed) outgoing.end();
}

function drained(outgoing: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      outgoing.off('drain', done);
      outgoing.off('close', done);
      resolve();
    };
    outgoing.on('drain', done);
    outgoing.on('close', done);
  });
}

/**
 * What the app's middleware sees of an answer already written: its status, and the header that
 * tells @hono/node-server to write nothing. One per status, as nothing reads or sends its body.
 */
const sent = new Map<number, Response>();
function alreadySent(status: number): Response {
  let response = sent.get(status);
  if (!response) sent.set(status, (response = new Response(null, { status, headers: { 'x-hono-already-sent': '1' } })));
  return response;
}
