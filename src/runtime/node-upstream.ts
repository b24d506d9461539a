import { type ClientRequest, Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { CancelSignal } from '../cancel';
import type { ByteReader, UpstreamClient, UpstreamReply } from '../proxy/upstream';
import { readAll } from './read-all';

/**
 * The upstream client on Node: plain node:http with keep-alive pools, which costs less per
 * request than undici's fetch. A JSON answer is read straight off the socket, and an SSE one chunk
 * by chunk off the answer itself, with no web stream in between. Workers keep the platform's fetch.
 */
export function nodeUpstreamClient(maxSockets = 256): UpstreamClient {
  // A pooled connection idle this long is closed by us: before the backend's own idle timeout
  // (vLLM's uvicorn closes after 5 s), so a request is never sent on a connection it is closing.
  // Without a timeout here, node:http also ignores the backend's `Keep-Alive: timeout` hint. An
  // idle socket only: a request in flight is never cut by it.
  const pool = { keepAlive: true, maxSockets, timeout: IDLE_CONNECTION_MS };
  const agents = { http: new HttpAgent(pool), https: new HttpsAgent(pool) };
  return {
    post: (target, init) =>
      new Promise<UpstreamReply>((resolve, reject) => {
        const { secure, hostname, port, path, host, basicAuth } = backendTarget(target);
        // Headers as a flat list: node:http then writes them as given, without building its own
        // header map and checking each name twice (about 5 µs a request); Host and URL credentials
        // are added here as node:http would add them.
        const headers = ['host', host];
        for (const name in init.headers) headers.push(name, init.headers[name]!);
        if (basicAuth && init.headers.authorization === undefined) headers.push('authorization', basicAuth);
        headers.push('content-length', String(Buffer.byteLength(init.body)));
        const req = (secure ? httpsRequest : httpRequest)(
          { hostname, port, path, method: 'POST', headers, agent: secure ? agents.https : agents.http },
          (res: IncomingMessage) => resolve(new NodeUpstreamReply(res)),
        );
        req.on('error', reject);
        abortWith(init.signal, req);
        req.end(init.body);
      }),
  };
}

/**
 * What node:http's `signal` option does (abort destroys the request, and its answer with it, until
 * the request closes) without its end-of-stream watcher: that one adds about ten listeners per
 * request, which outlive a young-generation GC under load: about 8% of the bytes promoted per request.
 */
function abortWith(signal: CancelSignal, req: ClientRequest): void {
  const onAbort = () => {
    req.destroy(new DOMException('This operation was aborted', 'AbortError'));
  };
  if (signal.aborted) {
    onAbort();
    return;
  }
  signal.addEventListener('abort', onAbort);
  req.once('close', () => signal.removeEventListener('abort', onAbort));
}

/** A pooled connection idle this long is closed (both Node clients): under vLLM's 5 s. */
export const IDLE_CONNECTION_MS = 4_000;

/** A backend URL as both Node clients need it. */
export interface BackendTarget {
  /** https: (node:https); `plain` is http: (anything else is neither). */
  secure: boolean;
  plain: boolean;
  /** For connect: an IPv6 literal without its brackets. */
  hostname: string;
  /** The port, or the scheme's default. */
  port: number;
  /** What is sent as Host: brackets kept, the scheme's default port left out. */
  host: string;
  path: string;
  /** `Basic …` from credentials in the URL, or null. */
  basicAuth: string | null;
}

/** Backend URLs parsed once each (a URL per request was a measurable cost). */
const targets = new Map<string, BackendTarget>();
export function backendTarget(target: string): BackendTarget {
  let found = targets.get(target);
  if (!found) {
    const url = new URL(target);
    const secure = url.protocol === 'https:';
    const auth = url.username || url.password ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` : null;
    found = {
      secure,
      plain: url.protocol === 'http:',
      hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
      port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
      host: url.host,
      path: url.pathname + url.search,
      basicAuth: auth === null ? null : `Basic ${Buffer.from(auth).toString('base64')}`,
    };
    if (targets.size >= 1024) targets.clear();
    targets.set(target, found);
  }
  return found;
}

/** A reply over a node:http answer. */
class NodeUpstreamReply implements UpstreamReply {
  readonly status: number;
  readonly #res: IncomingMessage;
  #used = false;

  constructor(res: IncomingMessage) {
    this.#res = res;
    this.status = res.statusCode ?? 502;
  }

  header(name: string): string | null {
    const value = this.#res.headers[name.toLowerCase()];
    return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
  }

  reader(): ByteReader | null {
    if (this.status === 204 || this.status === 304) return null;
    this.#take();
    // The answer's own async iterator: a read rejects once the request is aborted or the
    // connection breaks, as a web stream's would, without building one per request.
    const chunks = this.#res[Symbol.asyncIterator]() as AsyncIterator<Buffer, undefined>;
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
      await readAll(this.#res, { closedEarly: () => new Error('the backend closed the connection before the end of the body') }),
    );
  }

  #take(): void {
    if (this.#used) throw new TypeError('the reply body was already read');
    this.#used = true;
  }
}
