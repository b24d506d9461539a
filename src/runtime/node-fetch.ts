import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { readAll } from './read-all';

/**
 * The upstream client on Node: plain node:http with keep-alive pools, which costs less per
 * request than undici's fetch. It implements only what callUpstream uses (POST with a string
 * body, headers, an AbortSignal) and answers with what the relay reads of a web Response (status,
 * ok, headers, text(), json(), body), so the relay code is the same on both runtimes. A JSON
 * answer is read straight off the socket; the web stream is built only when a relay asks for
 * `body` (SSE). Workers keep the platform's fetch.
 */
export function nodeUpstreamFetch(maxSockets = 256): typeof fetch {
  const agents = { http: new HttpAgent({ keepAlive: true, maxSockets }), https: new HttpsAgent({ keepAlive: true, maxSockets }) };
  return ((input: string | URL | Request, init: RequestInit = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
      const secure = url.protocol === 'https:';
      const body = typeof init.body === 'string' ? init.body : undefined;
      const headers = { ...(init.headers as Record<string, string>), ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) };
      const req = (secure ? httpsRequest : httpRequest)(
        url,
        { method: init.method ?? 'GET', headers, agent: secure ? agents.https : agents.http, signal: init.signal ?? undefined },
        (res: IncomingMessage) => resolve(new NodeUpstreamResponse(res) as unknown as Response),
      );
      req.on('error', reject);
      req.end(body);
    })) as typeof fetch;
}

/** A Response over a node:http answer, building the costly web parts only when asked for. */
class NodeUpstreamResponse {
  readonly status: number;
  readonly statusText: string;
  readonly #res: IncomingMessage;
  #headers: Headers | null = null;
  #body: ReadableStream<Uint8Array> | null | undefined;
  #used = false;

  constructor(res: IncomingMessage) {
    this.#res = res;
    this.status = res.statusCode ?? 502;
    this.statusText = res.statusMessage ?? '';
    if (this.status === 204 || this.status === 304) this.#body = null;
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  get headers(): Headers {
    if (!this.#headers) {
      this.#headers = new Headers();
      for (const [name, value] of Object.entries(this.#res.headers)) {
        if (value !== undefined) this.#headers.set(name, Array.isArray(value) ? value.join(', ') : value);
      }
    }
    return this.#headers;
  }

  get bodyUsed(): boolean {
    return this.#used;
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (this.#body === undefined) {
      if (this.#used) throw new TypeError('Body has already been consumed.');
      this.#used = true;
      this.#body = Readable.toWeb(this.#res) as ReadableStream<Uint8Array>;
    }
    return this.#body;
  }

  async text(): Promise<string> {
    return new TextDecoder().decode(await this.#bytes());
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.#bytes();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  #bytes(): Promise<Uint8Array> {
    if (this.#body === null) return Promise.resolve(new Uint8Array(0));
    if (this.#used) return Promise.reject(new TypeError('Body has already been consumed.'));
    this.#used = true;
    return readAll(this.#res, { closedEarly: () => new Error('the backend closed the connection before the end of the body') });
  }
}
