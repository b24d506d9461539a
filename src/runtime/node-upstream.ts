import type { Readable } from 'node:stream';
import { Pool } from 'undici';
import type { ByteReader, UpstreamClient, UpstreamReply } from '../proxy/upstream';
import { readAll } from './read-all';

/**
 * The upstream client on Node: undici's connection pools (one per backend origin), which cost
 * less per request than node:http's client (and far less than fetch). A JSON answer is read
 * straight off the socket, and an SSE one chunk by chunk, with no web stream in between. Workers
 * keep the platform's fetch.
 */
export function nodeUpstreamClient(maxSockets = 256): UpstreamClient {
  const pools = new Map<string, Pool>();
  const poolFor = (origin: string) => {
    let pool = pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: maxSockets,
        // A pooled connection idle this long is closed by us: before the backend's own idle
        // timeout (vLLM's uvicorn closes after 5 s), so a request is never sent on a connection it
        // is closing. A shorter `Keep-Alive: timeout` hint from the backend wins.
        keepAliveTimeout: IDLE_CONNECTION_MS,
        keepAliveMaxTimeout: IDLE_CONNECTION_MS,
        // The gateway's own deadline (UpstreamCall.timeoutMs) covers every exchange.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      pools.set(origin, pool);
    }
    return pool;
  };
  return {
    async post(target, init) {
      const url = new URL(target);
      const answer = await poolFor(url.origin).request({
        path: url.pathname + url.search,
        method: 'POST',
        headers: init.headers,
        body: init.body,
        signal: init.signal,
      });
      return new NodeUpstreamReply(answer.statusCode, answer.headers, answer.body);
    },
  };
}

const IDLE_CONNECTION_MS = 4_000;

/** A reply over an undici answer. */
class NodeUpstreamReply implements UpstreamReply {
  readonly status: number;
  readonly #headers: Record<string, string | string[] | undefined>;
  readonly #body: Readable;
  #used = false;

  constructor(status: number, headers: Record<string, string | string[] | undefined>, body: Readable) {
    this.status = status;
    this.#headers = headers;
    this.#body = body;
  }

  header(name: string): string | null {
    const value = this.#headers[name.toLowerCase()];
    return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
  }

  reader(): ByteReader | null {
    if (this.status === 204 || this.status === 304) return null;
    this.#take();
    // The body's own async iterator: a read rejects once the request is aborted or the connection
    // breaks, as a web stream's would, without building one per request.
    const chunks = this.#body[Symbol.asyncIterator]() as AsyncIterator<Buffer, undefined>;
    return {
      read: async () => {
        const next = await chunks.next();
        return next.done ? { done: true, value: undefined } : { done: false, value: next.value };
      },
      cancel: async () => {
        await chunks.return?.();
      },
    };
  }

  async text(): Promise<string> {
    if (this.status === 204 || this.status === 304) return '';
    this.#take();
    return new TextDecoder().decode(
      await readAll(this.#body, { closedEarly: () => new Error('the backend closed the connection before the end of the body') }),
    );
  }

  #take(): void {
    if (this.#used) throw new TypeError('the reply body was already read');
    this.#used = true;
  }
}
