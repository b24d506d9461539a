import { connect, type Socket } from 'node:net';
import type { CancelSignal } from '../cancel';
import type { ByteReader, UpstreamClient, UpstreamReply } from '../proxy/upstream';
import { backendTarget, IDLE_CONNECTION_MS, nodeUpstreamClient } from './node-upstream';

export interface Http1ClientOptions {
  /** Connections per backend origin; requests past it wait for one to free. */
  maxSockets?: number;
  /**
   * An idle pooled connection is closed after this long: before the backend's own idle timeout
   * (vLLM's uvicorn closes after 5 s), so a request is never sent on a connection it is closing.
   */
  idleMs?: number;
  /** A response head (status line and headers) larger than this is refused. */
  maxHeadBytes?: number;
  /**
   * A connection not established within this long fails the attempt as unreachable (a 502 the
   * attempt loop may retry on another replica: the backend got nothing), instead of holding the
   * request until the backend's whole deadline (TOLLGATE_UPSTREAM_CONNECT_TIMEOUT_MS, 5 s; 0: none).
   */
  connectTimeoutMs?: number;
  /** For https: backends (TLS stays with node:https). */
  fallback?: UpstreamClient;
}

export type Http1Client = UpstreamClient & {
  /** Closes every pooled connection (shutdown, tests). */
  close(): void;
};

/**
 * The backend client on Node for plain-HTTP backends (the usual case: vLLM, SGLang, TGI,
 * llama.cpp and Ollama beside the gateway): HTTP/1.1 written and read straight on pooled
 * `node:net` sockets. node:http's client (ClientRequest, its Agent, IncomingMessage) cost about
 * 30 µs of CPU per request here, a tenth of all the gateway spends on a small one; this costs a
 * third of that. https: backends go to `fallback` (node:https).
 *
 * What it reads: a status line and headers (1xx interim answers skipped), then a body framed by
 * `content-length`, `transfer-encoding: chunked` or the end of the connection. A connection is
 * reused only when its answer was read to its exact end, HTTP/1.1 (or 1.0 with keep-alive) and
 * not `connection: close`; anything else about it (extra bytes, a cancelled body, an abort) ends it.
 *
 * @example
 * const client = http1UpstreamClient();
 * const reply = await client.post('http://127.0.0.1:8000/v1/chat/completions', { headers, body, signal });
 * const text = await reply.text();
 */
export function http1UpstreamClient(options: Http1ClientOptions = {}): Http1Client {
  const settings = {
    maxSockets: options.maxSockets ?? 256,
    idleMs: options.idleMs ?? IDLE_CONNECTION_MS,
    maxHeadBytes: options.maxHeadBytes ?? 64 * 1024,
    connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
  };
  const fallback = options.fallback ?? nodeUpstreamClient(settings.maxSockets);
  const origins = new Map<string, Origin>();
  return {
    post(target, init) {
      try {
        return send(target, init);
      } catch (error) {
        // A bad URL or header is a rejected promise, as from any other client.
        return Promise.reject(error);
      }
    },
    close() {
      for (const origin of origins.values()) origin.close();
      origins.clear();
    },
  };

  function send(target: string, init: Parameters<UpstreamClient['post']>[1]): Promise<UpstreamReply> {
    const url = backendTarget(target);
    if (!url.plain) return fallback.post(target, init);
    let origin = origins.get(url.host);
    if (!origin) {
      origin = new Origin(url.hostname, url.port, settings);
      origins.set(url.host, origin);
    }
    let head = `POST ${url.path} HTTP/1.1\r\nhost: ${url.host}\r\n`;
    for (const name in init.headers) head += headerLine(name, init.headers[name]!);
    if (url.basicAuth && init.headers.authorization === undefined) head += `authorization: ${url.basicAuth}\r\n`;
    head += `content-length: ${Buffer.byteLength(init.body)}\r\nconnection: keep-alive\r\n\r\n`;
    return origin.send(head + init.body, init.signal);
  }
}

/** One header line; a name or value that could split the request is refused, as node:http refuses it. */
function headerLine(name: string, value: string): string {
  if (!TOKEN.test(name) || BREAKS.test(value)) throw new TypeError(`invalid header for the backend: ${JSON.stringify(name)}`);
  return `${name}: ${value}\r\n`;
}
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const BREAKS = /[\r\n\0]/;

interface Settings {
  maxSockets: number;
  idleMs: number;
  maxHeadBytes: number;
  connectTimeoutMs: number;
}

/** One backend origin's connections: idle ones (last used first), open ones, requests waiting for one. */
class Origin {
  readonly #idle: Connection[] = [];
  #open = 0;
  readonly #waiting: { take: (connection: Connection) => void; fail: (error: unknown) => void }[] = [];

  constructor(
    readonly hostname: string,
    readonly port: number,
    readonly settings: Settings,
  ) {}

  send(request: string, signal: CancelSignal): Promise<UpstreamReply> {
    if (signal.aborted) return Promise.reject(abortError(signal));
    const idle = this.#takeIdle();
    if (idle) return idle.exchange(request, signal);
    if (this.#open < this.settings.maxSockets) return this.#connect().exchange(request, signal);
    return new Promise<Connection>((resolve, reject) => {
      const waiter = { take: resolve, fail: reject };
      const onAbort = () => {
        const at = this.#waiting.indexOf(waiter);
        if (at >= 0) this.#waiting.splice(at, 1);
        reject(abortError(signal));
      };
      waiter.take = (connection) => {
        signal.removeEventListener('abort', onAbort);
        resolve(connection);
      };
      signal.addEventListener('abort', onAbort);
      this.#waiting.push(waiter);
    }).then((connection) => connection.exchange(request, signal));
  }

  close(): void {
    for (const connection of this.#idle.splice(0)) connection.destroy(null);
    for (const waiter of this.#waiting.splice(0)) waiter.fail(new Error('the backend client is closed'));
  }

  /** A connection finished its exchange and may serve another. */
  release(connection: Connection): void {
    const waiter = this.#waiting.shift();
    if (waiter) return waiter.take(connection);
    connection.idle(Math.min(this.settings.idleMs, connection.idleHintMs));
    this.#idle.push(connection);
  }

  /** A connection closed (whatever the reason): its slot frees. */
  closed(connection: Connection): void {
    this.#open--;
    const at = this.#idle.indexOf(connection);
    if (at >= 0) this.#idle.splice(at, 1);
    const waiter = this.#waiting.shift();
    if (waiter) waiter.take(this.#connect());
  }

  #takeIdle(): Connection | undefined {
    for (;;) {
      const connection = this.#idle.pop();
      if (!connection || connection.usable) return connection;
    }
  }

  #connect(): Connection {
    this.#open++;
    return new Connection(
      this,
      connect({ host: this.hostname, port: this.port, noDelay: true, keepAlive: true, keepAliveInitialDelay: 1_000 }),
    );
  }
}

/** Where a response is in its parsing. */
enum Phase {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  UntilClose,
  Done,
}

/** One pooled socket and the exchange on it, if any. */
class Connection {
  readonly #origin: Origin;
  readonly #socket: Socket;
  #idleTimer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;
  // The exchange in progress.
  #reply: Http1Reply | null = null;
  #signal: CancelSignal | null = null;
  #resolve: ((reply: UpstreamReply) => void) | null = null;
  #reject: ((error: unknown) => void) | null = null;
  #phase = Phase.Done;
  #pending: Buffer | null = null;
  #remaining = 0;
  #reusable = false;
  /** How long the backend said it keeps an idle connection (`Keep-Alive: timeout=N`), less a second. */
  idleHintMs = Number.POSITIVE_INFINITY;
  /** The answer ended during the current #parse: release or close once its bytes are all seen. */
  #finished = false;

  constructor(origin: Origin, socket: Socket) {
    this.#origin = origin;
    this.#socket = socket;
    const { connectTimeoutMs } = origin.settings;
    if (connectTimeoutMs > 0) {
      const timer = setTimeout(
        () => this.destroy(new Error(`no connection to the backend within ${connectTimeoutMs} ms`)),
        connectTimeoutMs,
      );
      socket.once('connect', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
    }
    socket.on('data', (data: Buffer) => this.#onData(data));
    socket.on('end', () => this.#onEnd());
    socket.on('error', (error: Error) => this.destroy(error));
    socket.on('close', () => this.#onClose());
  }

  get usable(): boolean {
    return !this.#closed && !this.#socket.destroyed && this.#socket.readyState === 'open';
  }

  exchange(request: string, signal: CancelSignal): Promise<UpstreamReply> {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
    this.#socket.ref();
    if (signal.aborted) {
      this.#origin.release(this);
      return Promise.reject(abortError(signal));
    }
    return new Promise<UpstreamReply>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      this.#signal = signal;
      this.#phase = Phase.Head;
      this.#pending = null;
      signal.addEventListener('abort', this.#onAbort);
      this.#socket.write(request);
    });
  }

  idle(idleMs: number): void {
    this.#socket.unref();
    this.#idleTimer = setTimeout(() => this.destroy(null), idleMs);
    this.#idleTimer.unref?.();
  }

  destroy(error: Error | null): void {
    if (!this.#closed) this.#socket.destroy();
    this.#fail(error ?? new Error('the connection to the backend closed'));
  }

  readonly #onAbort = () => {
    const reason = abortError(this.#signal!);
    this.#socket.destroy();
    this.#fail(reason);
  };

  /** Ends the exchange in progress with an error: the head's promise or the body's reader. */
  #fail(error: unknown): void {
    if (this.#phase === Phase.Done) return;
    this.#phase = Phase.Done;
    this.#reusable = false;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#signal = null;
    const reject = this.#reject;
    const reply = this.#reply;
    this.#reject = this.#resolve = null;
    this.#reply = null;
    if (reject) reject(error);
    else reply?.fail(error);
  }

  #onData(data: Buffer): void {
    if (this.#phase === Phase.Done) {
      // Bytes nobody asked for: this connection cannot be trusted with another request.
      this.#socket.destroy();
      return;
    }
    try {
      this.#parse(data);
    } catch (error) {
      this.#socket.destroy();
      this.#fail(error);
    }
    if (this.#finished) {
      this.#finished = false;
      // Reused only when the answer ended exactly where the bytes did.
      if (this.#reusable && !this.#closed && !this.#socket.destroyed) this.#origin.release(this);
      else this.#socket.destroy();
    }
  }

  #onEnd(): void {
    if (this.#phase === Phase.UntilClose) {
      this.#complete();
      this.#finished = false;
      this.#socket.destroy();
    } else this.#fail(new Error('the backend closed the connection before the end of its answer'));
  }

  #onClose(): void {
    this.#closed = true;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#fail(new Error('the backend closed the connection before the end of its answer'));
    this.#origin.closed(this);
  }

  #parse(data: Buffer): void {
    let at = 0;
    if (this.#pending) {
      data = Buffer.concat([this.#pending, data]);
      this.#pending = null;
    }
    while (at < data.length) {
      switch (this.#phase) {
        case Phase.Head: {
          const end = data.indexOf('\r\n\r\n', at, 'latin1');
          if (end < 0) {
            if (data.length - at > this.#origin.settings.maxHeadBytes)
              throw new Error('the backend sent a response head that is too large');
            this.#pending = data.subarray(at);
            return;
          }
          if (end - at > this.#origin.settings.maxHeadBytes) throw new Error('the backend sent a response head that is too large');
          const head = data.toString('latin1', at, end);
          at = end + 4;
          this.#head(head);
          break;
        }
        case Phase.Length:
          at = this.#body(data, at);
          if (this.#remaining === 0) this.#complete();
          break;
        case Phase.UntilClose:
          this.#reply!.push(at === 0 ? data : data.subarray(at));
          at = data.length;
          break;
        case Phase.ChunkSize:
        case Phase.ChunkEnd:
        case Phase.Trailers: {
          const end = data.indexOf('\r\n', at, 'latin1');
          if (end < 0) {
            if (data.length - at > MAX_LINE) throw new Error('the backend sent a malformed chunked body');
            this.#pending = data.subarray(at);
            return;
          }
          const line = data.toString('latin1', at, end);
          at = end + 2;
          this.#chunkLine(line);
          break;
        }
        case Phase.ChunkData:
          at = this.#body(data, at);
          if (this.#remaining === 0) this.#phase = Phase.ChunkEnd;
          break;
        case Phase.Done:
          // More bytes after a complete answer: the connection is not reused.
          this.#socket.destroy();
          return;
      }
    }
  }

  /** Hands the reply up to `#remaining` body bytes from `at`; returns where they end. */
  #body(data: Buffer, at: number): number {
    const take = Math.min(this.#remaining, data.length - at);
    this.#remaining -= take;
    this.#reply!.push(data.subarray(at, at + take));
    return at + take;
  }

  #head(head: string): void {
    const lines = head.split('\r\n');
    const status = STATUS_LINE.exec(lines[0]!);
    if (!status) throw new Error('the backend sent something that is not an HTTP/1.1 response');
    const code = Number(status[2]);
    if (code >= 100 && code < 200) {
      // Interim answers (100 Continue, 103 Early Hints) come before the real one; 101 never should.
      if (code === 101) throw new Error('the backend switched protocols');
      return;
    }
    const headers = new Map<string, string>();
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Error('the backend sent a malformed header line');
      const name = line.slice(0, colon).toLowerCase();
      if (!TOKEN.test(name)) throw new Error('the backend sent a malformed header name');
      const value = line.slice(colon + 1).trim();
      const earlier = headers.get(name);
      headers.set(name, earlier === undefined ? value : `${earlier}, ${value}`);
    }
    const connection = headers.get('connection')?.toLowerCase() ?? '';
    this.#reusable = status[1] === '1' ? !/(^|,)\s*close\s*(,|$)/.test(connection) : /(^|,)\s*keep-alive\s*(,|$)/.test(connection);
    // As node:http's agent reads it: a second's margin under the backend's own idle timeout, and
    // not kept at all when that leaves nothing.
    const hint = /(?:^|[,;\s])timeout=(\d{1,9})/i.exec(headers.get('keep-alive') ?? '');
    this.idleHintMs = Number.POSITIVE_INFINITY; // each answer's own hint, not an earlier one's
    if (hint) {
      this.idleHintMs = Number(hint[1]) * 1000 - 1000;
      if (this.idleHintMs <= 0) this.#reusable = false;
    }
    const encoding = headers.get('transfer-encoding');
    const length = headers.get('content-length');
    if (code === 204 || code === 304) {
      // No body, whatever the headers say.
      this.#remaining = 0;
      this.#phase = Phase.Length;
    } else if (encoding !== undefined) {
      // Chunked when it is the last coding; then content-length means nothing (and the
      // connection is not trusted again when both came).
      if (/(^|,)\s*chunked\s*$/i.test(encoding)) this.#phase = Phase.ChunkSize;
      else this.#phase = Phase.UntilClose;
      if (length !== undefined || this.#phase === Phase.UntilClose) this.#reusable = false;
    } else if (length !== undefined) {
      const values = length.split(',').map((value) => value.trim());
      if (!values.every((value) => /^\d{1,15}$/.test(value) && value === values[0])) {
        throw new Error('the backend sent an invalid content-length');
      }
      this.#remaining = Number(values[0]);
      this.#phase = Phase.Length;
    } else {
      this.#phase = Phase.UntilClose;
      this.#reusable = false;
    }
    const bodyless = this.#phase === Phase.Length && this.#remaining === 0;
    const reply = new Http1Reply(code, headers, bodyless, this.#flow);
    const resolve = this.#resolve!;
    this.#resolve = this.#reject = null;
    this.#reply = reply;
    resolve(reply);
    if (bodyless) this.#complete();
  }

  #chunkLine(line: string): void {
    if (this.#phase === Phase.ChunkEnd) {
      if (line !== '') throw new Error('the backend sent a malformed chunked body');
      this.#phase = Phase.ChunkSize;
    } else if (this.#phase === Phase.ChunkSize) {
      const semicolon = line.indexOf(';');
      const size = (semicolon < 0 ? line : line.slice(0, semicolon)).trim();
      if (!/^[0-9a-fA-F]{1,12}$/.test(size)) throw new Error('the backend sent a malformed chunk size');
      this.#remaining = Number.parseInt(size, 16);
      this.#phase = this.#remaining === 0 ? Phase.Trailers : Phase.ChunkData;
    } else if (line === '') this.#complete(); // the blank line after the trailers
  }

  /** The answer was read to its exact end. */
  #complete(): void {
    if (this.#phase === Phase.Done) return;
    this.#phase = Phase.Done;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#signal = null;
    const reply = this.#reply;
    this.#reply = null;
    reply?.end();
    this.#finished = true;
  }

  /** The reader stopped before the end: the rest of the body is never read, so the connection goes. */
  readonly #cancelBody = () => {
    if (this.#phase === Phase.Done) return;
    this.#socket.destroy();
    this.#fail(new Error('cancelled'));
  };

  /** What the reply may do to this connection: stop it (a cancelled body), pause and resume it (a slow reader). */
  readonly #flow: Flow = {
    cancel: this.#cancelBody,
    pause: () => this.#socket.pause(),
    resume: () => this.#socket.resume(),
  };
}

interface Flow {
  cancel(): void;
  pause(): void;
  resume(): void;
}

/** Body bytes held for a reader that has not asked for them; past this the socket is paused. */
const HIGH_WATER = 1024 * 1024;

const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/;
const MAX_LINE = 16 * 1024;

/** A response as the relay reads it; its body arrives through push/end/fail from the connection. */
class Http1Reply implements UpstreamReply {
  readonly status: number;
  readonly #headers: Map<string, string>;
  readonly #bodyless: boolean;
  readonly #flow: Flow;
  #chunks: Buffer[] = [];
  #held = 0;
  #paused = false;
  #ended = false;
  #error: unknown = null;
  #used = false;
  /** Read chunk by chunk (a stream): only then is the socket paused for a slow reader. */
  #streaming = false;
  #wake: (() => void) | null = null;

  constructor(status: number, headers: Map<string, string>, bodyless: boolean, flow: Flow) {
    this.status = status;
    this.#headers = headers;
    this.#bodyless = bodyless;
    this.#flow = flow;
  }

  header(name: string): string | null {
    return this.#headers.get(name.toLowerCase()) ?? null;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#held += chunk.length;
    if (this.#held > HIGH_WATER && !this.#paused && this.#streaming) {
      this.#paused = true;
      this.#flow.pause();
    }
    this.#notify();
  }

  end(): void {
    this.#ended = true;
    this.#notify();
  }

  fail(error: unknown): void {
    if (this.#ended) return;
    this.#error = error;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Until the next chunk, the end or a failure. */
  #changed(): Promise<void> {
    return new Promise<void>((resolve) => (this.#wake = resolve));
  }

  async text(): Promise<string> {
    this.#take();
    if (this.#bodyless) return '';
    while (!this.#ended && this.#error === null) await this.#changed();
    if (!this.#ended) throw this.#error;
    const chunks = this.#chunks;
    this.#chunks = [];
    return DECODER.decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  }

  reader(): ByteReader | null {
    if (this.status === 204 || this.status === 304) return null;
    this.#take();
    this.#streaming = true;
    return {
      read: async () => {
        for (;;) {
          if (this.#chunks.length > 0) {
            const chunks = this.#chunks;
            this.#chunks = [];
            this.#held = 0;
            if (this.#paused) {
              this.#paused = false;
              this.#flow.resume();
            }
            return { done: false, value: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) };
          }
          if (this.#ended) return { done: true, value: undefined };
          if (this.#error !== null) throw this.#error;
          await this.#changed();
        }
      },
      cancel: async () => {
        this.#chunks = [];
        if (this.#ended || this.#error !== null) return;
        this.#ended = true;
        this.#flow.cancel();
      },
    };
  }

  #take(): void {
    if (this.#used) throw new TypeError('the reply body was already read');
    this.#used = true;
  }
}

const DECODER = new TextDecoder();

function abortError(signal: CancelSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}
