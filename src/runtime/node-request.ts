import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import type { HonoEnv, RequestIO } from '../deps';
import { tooLarge, webRequestIO } from '../http/io';
import { readAll } from './read-all';

// The hot path's view of the client request on Node (@hono/node-server): the body and the
// connection read on the node:http objects themselves. Going through the web Request builds a
// Request, a ReadableStream and an AbortController per request, which measured as a large share
// of the gateway's CPU. Installed by the Node entry; anything without node:http bindings (an
// `app.request` call) falls back to the web Request.

interface NodeBindings {
  incoming: IncomingMessage;
  outgoing: ServerResponse;
}

function nodeBindings(c: Context<HonoEnv>): NodeBindings | null {
  const env = c.env as Partial<NodeBindings> | undefined;
  return env?.incoming && env.outgoing && typeof env.incoming.on === 'function' ? (env as NodeBindings) : null;
}

export const nodeRequestIO: RequestIO = {
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
    const controller = new AbortController();
    const onClose = () => {
      if (incoming.errored) controller.abort(incoming.errored.toString());
      else if (!outgoing.writableFinished) controller.abort('Client connection prematurely closed.');
    };
    if (outgoing.closed) onClose();
    else outgoing.once('close', onClose);
    return controller.signal;
  },
};
