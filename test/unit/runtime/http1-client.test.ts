import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { Canceller } from '../../../src/cancel';
import type { ByteReader, UpstreamReply } from '../../../src/proxy/upstream';
import { http1UpstreamClient } from '../../../src/runtime/http1-client';
import { neverAccepting } from '../../support/never-accepting';

// The gateway's own HTTP/1.1 client for plain-http backends. Each test runs a raw node:net server
// that writes crafted bytes, so the wire is exactly what the test says, and records what it
// received: the request head and body, and every connection it saw opened and closed.

/** One request as the server read it off the wire. */
interface Received {
  line: string;
  headers: [string, string][];
  body: Buffer;
  conn: Conn;
}

/** One connection as the server sees it. */
interface Conn {
  socket: Socket;
  /** Every byte the client sent on it. */
  bytes: number;
  requests: Received[];
  closed: boolean;
  whenClosed: Promise<void>;
}

interface Raw {
  port: number;
  url(path?: string): string;
  conns: Conn[];
  requests: Received[];
  /** Connections open right now, and the most ever open at once. */
  open: number;
  maxOpen: number;
}

const servers: { server: Server; sockets: Set<Socket> }[] = [];
const clients: { close(): void }[] = [];
const faults: unknown[] = [];
const onFault = (error: unknown) => faults.push(error);

beforeEach(() => {
  faults.length = 0;
  process.on('unhandledRejection', onFault);
  process.on('uncaughtException', onFault);
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(
    servers.splice(0).map(({ server, sockets }) => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    }),
  );
  // A rejection nobody handled is reported a tick after the fact.
  await sleep(10);
  process.off('unhandledRejection', onFault);
  process.off('uncaughtException', onFault);
  // Whatever the client did, the process neither crashed nor left a rejection unhandled.
  expect(faults).toEqual([]);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A raw server that hands each complete request (head and content-length body) to `answer`. */
async function rawServer(answer: (request: Received) => void): Promise<Raw> {
  const sockets = new Set<Socket>();
  const raw: Raw = {
    port: 0,
    url: (path = '/v1/chat/completions') => `http://127.0.0.1:${raw.port}${path}`,
    conns: [],
    requests: [],
    open: 0,
    maxOpen: 0,
  };
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    raw.open++;
    raw.maxOpen = Math.max(raw.maxOpen, raw.open);
    let closed!: () => void;
    const conn: Conn = { socket, bytes: 0, requests: [], closed: false, whenClosed: new Promise<void>((resolve) => (closed = resolve)) };
    raw.conns.push(conn);
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      raw.open--;
      conn.closed = true;
      closed();
    });
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      conn.bytes += chunk.length;
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const [line, ...fields] = buffered.subarray(0, end).toString('latin1').split('\r\n');
        const headers = fields.map((field): [string, string] => {
          const colon = field.indexOf(':');
          return [field.slice(0, colon).trim().toLowerCase(), field.slice(colon + 1).trim()];
        });
        const length = Number(headers.find(([name]) => name === 'content-length')?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        const request: Received = { line: line!, headers, body: Buffer.from(buffered.subarray(end + 4, end + 4 + length)), conn };
        buffered = buffered.subarray(end + 4 + length);
        conn.requests.push(request);
        raw.requests.push(request);
        answer(request);
      }
    });
  });
  servers.push({ server, sockets });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  raw.port = (server.address() as AddressInfo).port;
  return raw;
}

function client(options?: Parameters<typeof http1UpstreamClient>[0]) {
  const made = http1UpstreamClient(options);
  clients.push(made);
  return made;
}

const post = (upstream: ReturnType<typeof http1UpstreamClient>, url: string, body = '{}', signal = new Canceller()) =>
  upstream.post(url, { headers: { 'content-type': 'application/json' }, body, signal });

/** A 200 answer with a content-length body. */
const ok = (body: string, extra = '') =>
  `HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

/** `promise`, or a failure naming `what` when it is still pending after `ms`: a hang fails the test instead of timing it out. */
async function settle<T>(promise: Promise<T>, what: string, ms = 3000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms)),
  );
  try {
    return await Promise.race([promise, hang]);
  } finally {
    clearTimeout(timer);
  }
}

/** The error `promise` rejects with; fails when it resolves, or is still pending after `ms` (a hang is not a rejection). */
async function rejection(promise: Promise<unknown>, what: string, ms = 3000): Promise<unknown> {
  const pending = Symbol('pending');
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    promise.then(
      (value) => ({ resolved: value }),
      (error: unknown) => ({ rejected: error }),
    ),
    new Promise<typeof pending>((resolve) => (timer = setTimeout(() => resolve(pending), ms))),
  ]);
  clearTimeout(timer);
  if (outcome === pending) throw new Error(`${what}: still pending after ${ms} ms, expected a rejection`);
  if ('resolved' in outcome) throw new Error(`${what}: resolved, expected a rejection`);
  expect(outcome.rejected).toBeInstanceOf(Error);
  return outcome.rejected;
}

/** Waits until `condition()` holds (polling), failing with `what` after `ms`. */
async function until(condition: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not after ${ms} ms`);
    await sleep(5);
  }
}

/** Reads `reader` to its end; the body as text ('' for no reader). */
async function readAll(reader: ByteReader | null): Promise<string> {
  if (!reader) return '';
  const parts: Uint8Array[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    expect(value).toBeInstanceOf(Uint8Array);
    parts.push(value);
  }
  return Buffer.concat(parts).toString('utf8');
}

/** Reads `reader` until a read rejects (failing if it ends instead, or hangs); what arrived before. */
async function readUntilRejected(reader: ByteReader): Promise<string> {
  let got = '';
  await rejection(
    (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        got += Buffer.from(value).toString();
      }
    })(),
    'reading to the end',
  );
  return got;
}

/** Writes `bytes` one byte per write, yielding to the event loop between writes. */
async function dribble(socket: Socket, bytes: Buffer): Promise<void> {
  for (const byte of bytes) {
    if (socket.destroyed) return;
    socket.write(Buffer.of(byte));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const named = (request: Received, name: string) => request.headers.filter(([key]) => key === name).map(([, value]) => value);

describe('the request a backend receives', () => {
  test('request line, Host, the given headers, content-length in UTF-8 bytes, keep-alive, and the body byte for byte', async () => {
    const raw = await rawServer((request) => request.conn.socket.write(ok('{"ok":true}')));
    const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'héllo wörld ✓ 日本語' }] });
    const reply = await client().post(raw.url('/v1/chat/completions?x=1&y=%C3%A9'), {
      headers: { 'content-type': 'application/json', 'x-request-id': 'req_1', authorization: 'Bearer backend-key' },
      body,
      signal: new Canceller(),
    });
    expect(reply.status).toBe(200);
    expect(await reply.text()).toBe('{"ok":true}');
    const [request] = raw.requests;
    expect(request!.line).toBe('POST /v1/chat/completions?x=1&y=%C3%A9 HTTP/1.1');
    expect(named(request!, 'host')).toEqual([`127.0.0.1:${raw.port}`]);
    expect(named(request!, 'content-type')).toEqual(['application/json']);
    expect(named(request!, 'x-request-id')).toEqual(['req_1']);
    expect(named(request!, 'authorization')).toEqual(['Bearer backend-key']);
    expect(named(request!, 'content-length')).toEqual([String(Buffer.byteLength(body))]);
    expect(Buffer.byteLength(body)).toBeGreaterThan(body.length);
    expect(named(request!, 'connection')).toEqual(['keep-alive']);
    expect(request!.body.equals(Buffer.from(body, 'utf8'))).toBe(true);
  });

  test('an empty body is sent as content-length: 0', async () => {
    const raw = await rawServer((request) => request.conn.socket.write(ok('done')));
    const reply = await post(client(), raw.url(), '');
    expect(await reply.text()).toBe('done');
    expect(named(raw.requests[0]!, 'content-length')).toEqual(['0']);
    expect(raw.requests[0]!.body.length).toBe(0);
  });

  test('a 1 MB request body arrives whole', async () => {
    const raw = await rawServer((request) => request.conn.socket.write(ok(String(request.body.length))));
    const body = JSON.stringify({ prompt: 'é'.repeat(512 * 1024) });
    const reply = await post(client(), raw.url(), body);
    expect(await reply.text()).toBe(String(Buffer.byteLength(body)));
    expect(raw.requests[0]!.body.equals(Buffer.from(body))).toBe(true);
  });

  test('credentials in the URL become Basic auth (percent-decoded), unless the headers have an authorization; Host carries none', async () => {
    const raw = await rawServer((request) => request.conn.socket.write(ok('ok')));
    const upstream = client();
    const url = `http://u:p%40ss@127.0.0.1:${raw.port}/v1/completions`;
    await (await post(upstream, url)).text();
    await (
      await upstream.post(url, {
        headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
        body: '{}',
        signal: new Canceller(),
      })
    ).text();
    expect(named(raw.requests[0]!, 'authorization')).toEqual([`Basic ${Buffer.from('u:p@ss').toString('base64')}`]);
    expect(named(raw.requests[1]!, 'authorization')).toEqual(['Bearer k']);
    expect(raw.requests[0]!.line).toBe('POST /v1/completions HTTP/1.1');
    expect(named(raw.requests[0]!, 'host')).toEqual([`127.0.0.1:${raw.port}`]);
  });
});

describe('the response head', () => {
  test('post() resolves at the head, before the body has arrived: status, headers by any case, a repeated header joined', async () => {
    let rest!: () => void;
    const restSent = new Promise<void>((resolve) => (rest = resolve));
    const raw = await rawServer((request) => {
      request.conn.socket.write(
        'HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Dup: a\r\nx-dup: b\r\nX-Spaced:   v  \r\nX-Tight:t\r\nContent-Length: 11\r\n\r\n{"ok":',
      );
      void restSent.then(() => request.conn.socket.write('true}'));
    });
    const reply = await settle(post(client(), raw.url()), 'post() with the body held back');
    expect(reply.status).toBe(201);
    expect(reply.header('content-type')).toBe('application/json');
    expect(reply.header('Content-Type')).toBe('application/json');
    expect(reply.header('CONTENT-TYPE')).toBe('application/json');
    expect(reply.header('x-dup')).toBe('a, b');
    expect(reply.header('x-spaced')).toBe('v');
    expect(reply.header('x-tight')).toBe('t');
    expect(reply.header('x-missing')).toBeNull();
    const text = reply.text();
    rest();
    expect(await settle(text, 'text()')).toBe('{"ok":true}');
  });

  test('1xx interim answers (100 Continue, 103 Early Hints) are skipped: the reply is the final one', async () => {
    const raw = await rawServer(async (request) => {
      const socket = request.conn.socket;
      socket.write('HTTP/1.1 100 Continue\r\n\r\n');
      await sleep(20);
      socket.write('HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n');
      await sleep(20);
      socket.write(ok('final', 'X-Final: yes\r\n'));
    });
    const reply = await settle(post(client(), raw.url()), 'post()');
    expect(reply.status).toBe(200);
    expect(reply.header('x-final')).toBe('yes');
    expect(reply.header('link')).toBeNull();
    expect(await settle(reply.text(), 'text()')).toBe('final');
  });

  test('1xx interim answers delivered one byte at a time are skipped too', async () => {
    const raw = await rawServer((request) =>
      dribble(
        request.conn.socket,
        Buffer.from(`HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n${ok('final')}`),
      ),
    );
    const reply = await settle(post(client(), raw.url()), 'post()');
    expect(reply.status).toBe(200);
    expect(await settle(reply.text(), 'text()')).toBe('final');
  });

  test('a head just under maxHeadBytes is read; a 16 KB head is fine with the default limit', async () => {
    const raw = await rawServer((request) =>
      request.conn.socket.write(ok('fine', `X-Big: ${'a'.repeat(request.line.includes('small') ? 800 : 16 * 1024)}\r\n`)),
    );
    const small = await settle(post(client({ maxHeadBytes: 1024 }), raw.url('/small')), 'post() with a 900-byte head');
    expect(small.header('x-big')).toBe('a'.repeat(800));
    expect(await small.text()).toBe('fine');
    const large = await settle(post(client(), raw.url('/large')), 'post() with a 16 KB head');
    expect(large.header('x-big')).toHaveLength(16 * 1024);
    expect(await large.text()).toBe('fine');
  });
});

// Body framings. `body: null` means there is none: text() is '' and reader() null.
const TEXT = `hello${'✓日本語'.repeat(12)} — héllo wörld`;
const BYTES = Buffer.from(TEXT);
const chunked = (() => {
  // Pieces of 5, 26 and 27 bytes cut through three-byte characters; sizes written as
  // `5;foo=bar`, upper-case hex, lower-case hex with a quoted extension, and with leading zeros.
  const a = BYTES.subarray(0, 5);
  const b = BYTES.subarray(5, 31);
  const c = BYTES.subarray(31, 58);
  const d = BYTES.subarray(58);
  return Buffer.concat([
    Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n'),
    Buffer.from('5;foo=bar\r\n'),
    a,
    Buffer.from(`\r\n${(26).toString(16).toUpperCase()}\r\n`),
    b,
    Buffer.from(`\r\n${(27).toString(16)};name="quoted value"\r\n`),
    c,
    Buffer.from(`\r\n00${d.length.toString(16)}\r\n`),
    d,
    Buffer.from('\r\n0\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n'),
  ]);
})();

const framings: { name: string; wire: Buffer; close: boolean; status: number; body: string | null }[] = [
  {
    name: 'content-length',
    wire: Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${BYTES.length}\r\n\r\n${TEXT}`),
    close: false,
    status: 200,
    body: TEXT,
  },
  { name: 'content-length: 0', wire: Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), close: false, status: 200, body: '' },
  { name: 'chunked, with extensions, both hex cases, leading zeros and trailers', wire: chunked, close: false, status: 200, body: TEXT },
  {
    name: 'close-delimited (no length, no chunking)',
    wire: Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n${TEXT}`),
    close: true,
    status: 200,
    body: TEXT,
  },
  {
    name: 'close-delimited HTTP/1.0',
    wire: Buffer.from(`HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n${TEXT}`),
    close: true,
    status: 200,
    body: TEXT,
  },
  { name: '204 No Content', wire: Buffer.from('HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n'), close: false, status: 204, body: null },
  {
    name: '304 Not Modified with a content-length (of the representation, not a body)',
    wire: Buffer.from('HTTP/1.1 304 Not Modified\r\nETag: "x"\r\nContent-Length: 42\r\n\r\n'),
    close: false,
    status: 304,
    body: null,
  },
];

describe.each([
  { delivery: 'in one write', slow: false },
  { delivery: 'one byte at a time', slow: true },
])('body framings, delivered $delivery', ({ slow }) => {
  async function answered(framing: (typeof framings)[number]): Promise<UpstreamReply> {
    const raw = await rawServer(async (request) => {
      const socket = request.conn.socket;
      if (slow) await dribble(socket, framing.wire);
      else socket.write(framing.wire);
      // A framing that ends the body by itself is read with the connection still open.
      if (framing.close) socket.end();
    });
    const reply = await settle(post(client(), raw.url()), 'post()');
    expect(reply.status).toBe(framing.status);
    return reply;
  }

  test.each(framings)('$name, read with text()', async (framing) => {
    const reply = await answered(framing);
    expect(await settle(reply.text(), 'text()')).toBe(framing.body ?? '');
  });

  test.each(framings)('$name, read with reader()', async (framing) => {
    const reply = await answered(framing);
    const reader = reply.reader();
    if (framing.body === null) expect(reader).toBeNull();
    else expect(await settle(readAll(reader), 'reading to the end')).toBe(framing.body);
  });
});

describe('large bodies', () => {
  test('a 2 MB content-length body and a 2 MB chunked body arrive whole', async () => {
    const big = `${'x'.repeat(2 * 1024 * 1024 - 3)}end`;
    const raw = await rawServer((request) => {
      const socket = request.conn.socket;
      if (request.line.includes('/length')) socket.write(ok(big));
      else {
        socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
        for (let at = 0; at < big.length; at += 100_000) {
          const piece = big.slice(at, at + 100_000);
          socket.write(`${piece.length.toString(16)}\r\n${piece}\r\n`);
        }
        socket.write('0\r\n\r\n');
      }
    });
    const upstream = client();
    expect(await settle((await post(upstream, raw.url('/length'))).text(), 'text()')).toBe(big);
    expect(await settle(readAll((await post(upstream, raw.url('/chunked'))).reader()), 'reader()')).toBe(big);
  });
});

describe('keep-alive', () => {
  test('three sequential requests answered with content-length or chunked share one connection', async () => {
    let n = 0;
    const raw = await rawServer((request) => {
      n++;
      if (n === 2) request.conn.socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nreply 2\r\n0\r\n\r\n');
      else request.conn.socket.write(ok(`reply ${n}`));
    });
    const upstream = client();
    expect(await (await post(upstream, raw.url())).text()).toBe('reply 1');
    expect(await readAll((await post(upstream, raw.url())).reader())).toBe('reply 2');
    expect(await (await post(upstream, raw.url())).text()).toBe('reply 3');
    expect(raw.conns).toHaveLength(1);
    expect(raw.conns[0]!.requests).toHaveLength(3);
  });

  test('an answer with connection: close is not reused: the client closes it and the next request opens a new one', async () => {
    let n = 0;
    // The server leaves the socket open itself: only the client decides not to reuse it.
    const raw = await rawServer((request) => request.conn.socket.write(ok(`reply ${++n}`, n === 1 ? 'Connection: close\r\n' : '')));
    const upstream = client();
    expect(await (await post(upstream, raw.url())).text()).toBe('reply 1');
    expect(await settle((await post(upstream, raw.url())).text(), 'second request')).toBe('reply 2');
    expect(raw.conns).toHaveLength(2);
    expect(raw.conns[0]!.requests).toHaveLength(1);
    await settle(raw.conns[0]!.whenClosed, 'the closed connection going away');
  });

  test('an HTTP/1.0 answer without connection: keep-alive is not reused', async () => {
    let n = 0;
    const raw = await rawServer((request) => {
      n++;
      const body = `reply ${n}`;
      request.conn.socket.write(n === 1 ? `HTTP/1.0 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}` : ok(body));
    });
    const upstream = client();
    expect(await (await post(upstream, raw.url())).text()).toBe('reply 1');
    expect(await settle((await post(upstream, raw.url())).text(), 'second request')).toBe('reply 2');
    expect(raw.conns).toHaveLength(2);
    expect(raw.conns[0]!.requests).toHaveLength(1);
  });

  test('a body cancelled half way is not reused: the connection is closed, the next request gets its own answer on a new one', async () => {
    const raw = await rawServer((request) => {
      if (raw.requests.length === 1) request.conn.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n${'a'.repeat(10)}`);
      else request.conn.socket.write(ok('second'));
    });
    const upstream = client();
    const first = await post(upstream, raw.url());
    const reader = first.reader()!;
    const { value } = await settle(reader.read(), 'first read');
    expect(Buffer.from(value!).toString()).toMatch(/^a+$/);
    await reader.cancel();
    expect(await settle((await post(upstream, raw.url())).text(), 'the next request')).toBe('second');
    expect(raw.conns).toHaveLength(2);
    expect(raw.conns[0]!.requests).toHaveLength(1);
    await settle(raw.conns[0]!.whenClosed, 'the cancelled connection closing');
  });

  test('extra bytes after a complete content-length answer: the reply is right, the next request does not read them', async () => {
    const raw = await rawServer((request) => request.conn.socket.write(raw.conns.length === 1 ? `${ok('first')}junk` : ok('second')));
    const upstream = client();
    expect(await settle((await post(upstream, raw.url())).text(), 'text()')).toBe('first');
    expect(await settle((await post(upstream, raw.url())).text(), 'the next request')).toBe('second');
    expect(raw.conns).toHaveLength(2);
    expect(raw.conns[0]!.requests).toHaveLength(1);
  });

  test('bytes a server sends on an idle pooled connection: that connection is not used again', async () => {
    const raw = await rawServer((request) => request.conn.socket.write(ok(raw.conns.length === 1 ? 'first' : 'second')));
    const upstream = client();
    expect(await (await post(upstream, raw.url())).text()).toBe('first');
    // The answer is read and its connection idle in the pool: the server now sends an answer nobody asked for.
    await new Promise((resolve) => raw.conns[0]!.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale', resolve));
    await sleep(30);
    expect(await settle((await post(upstream, raw.url())).text(), 'the next request')).toBe('second');
    expect(raw.conns).toHaveLength(2);
    expect(raw.conns[0]!.requests).toHaveLength(1);
  });
});

describe('the pool', () => {
  /** A server that holds every answer (echoing the request body) until `release()`. */
  async function holding() {
    let released = false;
    const held: Received[] = [];
    const answer = (request: Received) => request.conn.socket.write(ok(`echo ${request.body.toString()}`));
    const raw = await rawServer((request) => (released ? answer(request) : held.push(request)));
    const release = () => {
      released = true;
      for (const request of held.splice(0)) answer(request);
    };
    return { raw, release };
  }

  test('maxSockets: 2 — five concurrent requests use at most two connections at once, and all five complete after release', async () => {
    const { raw, release } = await holding();
    const upstream = client({ maxSockets: 2 });
    const replies = [1, 2, 3, 4, 5].map((i) => post(upstream, raw.url(), String(i)).then((reply) => reply.text()));
    await until(() => raw.requests.length === 2, 'two requests reaching the server');
    await sleep(50);
    expect(raw.requests).toHaveLength(2);
    expect(raw.open).toBe(2);
    release();
    expect(await settle(Promise.all(replies), 'all five')).toEqual(['echo 1', 'echo 2', 'echo 3', 'echo 4', 'echo 5']);
    expect(raw.requests).toHaveLength(5);
    expect(raw.maxOpen).toBe(2);
  });

  test('the cap is per origin: a full pool for one backend does not hold back another', async () => {
    const a = await holding();
    const b = await holding();
    b.release();
    const upstream = client({ maxSockets: 1 });
    const first = post(upstream, a.raw.url(), 'a').then((reply) => reply.text());
    await until(() => a.raw.requests.length === 1, 'the request to A');
    expect(await settle((await post(upstream, b.raw.url(), 'b')).text(), 'the request to B')).toBe('echo b');
    a.release();
    expect(await settle(first, 'the request to A')).toBe('echo a');
  });

  test('an idle pooled connection is closed after idleMs (it was reused before that), and the next request opens a new one', async () => {
    const raw = await rawServer((request) => request.conn.socket.write(ok('ok')));
    const upstream = client({ idleMs: 100 });
    await (await post(upstream, raw.url())).text();
    await (await post(upstream, raw.url())).text();
    expect(raw.conns).toHaveLength(1);
    await settle(raw.conns[0]!.whenClosed, 'the idle connection closing');
    expect(await settle((await post(upstream, raw.url())).text(), 'the next request')).toBe('ok');
    expect(raw.conns).toHaveLength(2);
  });

  test.each(['end', 'resetAndDestroy'] as const)(
    'a pooled connection the server closed while idle (%s) is not used: the next request succeeds on a new one',
    async (how) => {
      const raw = await rawServer((request) => {
        request.conn.socket.write(ok(`reply ${raw.requests.length}`));
        if (raw.requests.length === 1) setTimeout(() => request.conn.socket[how](), 10);
      });
      const upstream = client();
      expect(await (await post(upstream, raw.url())).text()).toBe('reply 1');
      await settle(raw.conns[0]!.whenClosed, 'the server closing its side');
      await sleep(30);
      expect(await settle((await post(upstream, raw.url())).text(), 'the next request')).toBe('reply 2');
      expect(raw.conns).toHaveLength(2);
    },
  );

  test("a backend's Keep-Alive: timeout hint shortens the idle time by a second's margin; timeout=1 leaves none, so it is not kept", async () => {
    const raw = await rawServer((request) => {
      const hint = request.line.includes('/one') ? 'timeout=1' : 'timeout=2, max=100';
      request.conn.socket.write(ok('ok', `Keep-Alive: ${hint}\r\n`));
    });
    const upstream = client({ idleMs: 60_000 });
    await (await post(upstream, raw.url('/v1/one'))).text();
    await settle(raw.conns[0]!.whenClosed, 'the connection a 1 s hint leaves no time for');
    await (await post(upstream, raw.url('/v1/two'))).text();
    await (await post(upstream, raw.url('/v1/two'))).text();
    expect(raw.conns).toHaveLength(2);
    // timeout=2: closed by the client about a second after it went idle, not after idleMs.
    await settle(raw.conns[1]!.whenClosed, 'the idle connection closing under the hint', 3000);
  });

  test('a hint holds for the answer that carried it: the next answer without one leaves the connection its full idle time', async () => {
    const raw = await rawServer((request) =>
      request.conn.socket.write(ok('ok', raw.requests.length === 1 ? 'Keep-Alive: timeout=2\r\n' : '')),
    );
    const upstream = client({ idleMs: 60_000 });
    await (await post(upstream, raw.url())).text();
    await (await post(upstream, raw.url())).text();
    expect(raw.conns).toHaveLength(1);
    // Past the first answer's hint (2 s less a second's margin), the connection is still open.
    await sleep(1_500);
    expect(raw.conns[0]!.closed).toBe(false);
  });

  test('close() destroys idle sockets', async () => {
    const raw = await rawServer((request) => request.conn.socket.write(ok('ok')));
    const upstream = http1UpstreamClient();
    await (await post(upstream, raw.url())).text();
    await sleep(20);
    expect(raw.conns[0]!.closed).toBe(false);
    upstream.close();
    await settle(raw.conns[0]!.whenClosed, 'the idle connection closing');
  });
});

describe('failures reject, never hang or crash', () => {
  test('a header value with a line break is refused: post() rejects (it does not throw) and nothing is sent', async () => {
    const raw = await rawServer((request) => request.conn.socket.write(ok('ok')));
    let sent: Promise<unknown>;
    try {
      sent = client().post(raw.url(), {
        headers: { 'content-type': 'application/json', 'x-request-id': 'req_1\r\nx-injected: 1' },
        body: '{}',
        signal: new Canceller(),
      });
    } catch (error) {
      throw new Error(`post() threw synchronously instead of returning a rejected promise: ${String(error)}`);
    }
    await rejection(sent, 'post()');
    await sleep(50);
    expect(raw.conns.reduce((sum, conn) => sum + conn.bytes, 0)).toBe(0);
  });

  test('connection refused', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await rejection(post(client(), `http://127.0.0.1:${port}/v1/chat/completions`), 'post() to a closed port');
  });

  test.each([
    { name: 'closes', act: (socket: Socket) => socket.end() },
    { name: 'resets', act: (socket: Socket) => socket.resetAndDestroy() },
    {
      name: 'closes half way through the head',
      act: (socket: Socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Le'),
    },
  ])('the server $name before the head is complete', async ({ act }) => {
    const raw = await rawServer((request) => act(request.conn.socket));
    await rejection(post(client(), raw.url()), 'post()');
  });

  test.each(['HELLO\r\n\r\n', 'HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n'])('a garbage status line (%j)', async (line) => {
    const raw = await rawServer((request) => request.conn.socket.write(line));
    await rejection(post(client(), raw.url()), 'post()');
  });

  test('a head larger than maxHeadBytes', async () => {
    const raw = await rawServer((request) => request.conn.socket.write(ok('x', `X-Big: ${'a'.repeat(4096)}\r\n`)));
    await rejection(post(client({ maxHeadBytes: 1024 }), raw.url()), 'post()');
  });

  test('a head that grows past maxHeadBytes without ever ending', async () => {
    const raw = await rawServer((request) => request.conn.socket.write(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(4096)}`));
    await rejection(post(client({ maxHeadBytes: 1024 }), raw.url()), 'post()');
  });

  test.each(['Content-Length: abc\r\n', 'Content-Length: -5\r\n', 'Content-Length: 5\r\nContent-Length: 6\r\n'])(
    'an invalid content-length (%j)',
    async (field) => {
      const raw = await rawServer((request) => request.conn.socket.write(`HTTP/1.1 200 OK\r\n${field}\r\nhello!`));
      await rejection(post(client(), raw.url()), 'post()');
    },
  );

  test('a content-length body cut short: text() rejects', async () => {
    const raw = await rawServer((request) => request.conn.socket.end(`HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n${'a'.repeat(10)}`));
    const reply = await settle(post(client(), raw.url()), 'post()');
    await rejection(reply.text(), 'text()');
  });

  test('a content-length body cut short: the reader delivers what came, then read() rejects', async () => {
    const raw = await rawServer((request) => request.conn.socket.end(`HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n${'a'.repeat(10)}`));
    const reply = await settle(post(client(), raw.url()), 'post()');
    const reader = reply.reader()!;
    expect(await readUntilRejected(reader)).toBe('a'.repeat(10));
  });

  test('a chunked stream closed without its last chunk: the chunks before are delivered, then read() rejects', async () => {
    const raw = await rawServer(async (request) => {
      const socket = request.conn.socket;
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n');
      socket.write('9\r\ndata: 1\n\n\r\n');
      await sleep(20);
      socket.write('9\r\ndata: 2\n\n\r\n');
      await sleep(20);
      socket.end();
    });
    const reply = await settle(post(client(), raw.url()), 'post()');
    const reader = reply.reader()!;
    expect(await readUntilRejected(reader)).toBe('data: 1\n\ndata: 2\n\n');
  });

  test.each([
    { name: 'a malformed chunk size (zz)', wire: '5\r\nhello\r\nzz\r\nhello\r\n0\r\n\r\n' },
    { name: 'chunk data not followed by CRLF', wire: '5\r\nhelloXX\r\n0\r\n\r\n' },
  ])('$name: text() rejects', async ({ wire }) => {
    const raw = await rawServer((request) => request.conn.socket.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${wire}`));
    const reply = await settle(post(client(), raw.url()), 'post()');
    await rejection(reply.text(), 'text()');
  });
});

describe('cancelling', () => {
  test('aborted before the head arrives: post() rejects and the connection is closed', async () => {
    const raw = await rawServer(() => {});
    const cancel = new Canceller();
    const replied = post(client(), raw.url(), '{}', cancel);
    await until(() => raw.requests.length === 1, 'the request reaching the server');
    cancel.abort(new Error('client disconnected'));
    await rejection(replied, 'post()');
    await settle(raw.conns[0]!.whenClosed, 'the connection closing');
  });

  /** A stream whose first event was read, the rest still to come; `cancel` is its request's. */
  async function streamingAfterFirstEvent() {
    const raw = await rawServer((request) =>
      request.conn.socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\ndata: 1\n\n\r\n'),
    );
    const cancel = new Canceller();
    const reply = await settle(post(client(), raw.url(), '{}', cancel), 'post()');
    const reader = reply.reader()!;
    expect(Buffer.from((await settle(reader.read(), 'first read')).value!).toString()).toBe('data: 1\n\n');
    return { raw, cancel, reader };
  }

  test('aborted while the body streams: the pending read() rejects and the connection is closed', async () => {
    const { raw, cancel, reader } = await streamingAfterFirstEvent();
    const pending = reader.read();
    cancel.abort(new Error('client disconnected'));
    await rejection(pending, 'the pending read()');
    await settle(raw.conns[0]!.whenClosed, 'the connection closing');
  });

  test('aborted while the body streams: the next read() rejects', async () => {
    const { cancel, reader } = await streamingAfterFirstEvent();
    cancel.abort(new Error('client disconnected'));
    await rejection(reader.read(), 'the next read()');
  });

  test('aborted while text() waits for the body: text() rejects', async () => {
    const raw = await rawServer((request) => request.conn.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial'));
    const cancel = new Canceller();
    const reply = await settle(post(client(), raw.url(), '{}', cancel), 'post()');
    const text = reply.text();
    await sleep(20);
    cancel.abort(new Error('client disconnected'));
    await rejection(text, 'text()');
  });

  test('already aborted: post() rejects and the server receives no byte', async () => {
    const raw = await rawServer((request) => request.conn.socket.write(ok('ok')));
    const cancel = new Canceller();
    cancel.abort(new Error('client disconnected'));
    await rejection(post(client(), raw.url(), '{}', cancel), 'post()');
    await sleep(50);
    expect(raw.conns.reduce((sum, conn) => sum + conn.bytes, 0)).toBe(0);
  });

  test('aborted while queued for a full pool: rejects, is never sent, and does not take a slot', async () => {
    let released = false;
    const held: Received[] = [];
    const raw = await rawServer((request) => (released ? request.conn.socket.write(ok('ok')) : held.push(request)));
    const upstream = client({ maxSockets: 1 });
    const first = post(upstream, raw.url(), '1').then((reply) => reply.text());
    await until(() => raw.requests.length === 1, 'the first request reaching the server');
    const cancel = new Canceller();
    const queued = post(upstream, raw.url(), '2', cancel);
    await sleep(20);
    cancel.abort(new Error('client disconnected'));
    await rejection(queued, 'the queued post()');
    released = true;
    for (const request of held.splice(0)) request.conn.socket.write(ok('ok'));
    expect(await settle(first, 'the first request')).toBe('ok');
    expect(await settle((await post(upstream, raw.url(), '3')).text(), 'a later request')).toBe('ok');
    expect(raw.requests.map((request) => request.body.toString())).toEqual(['1', '3']);
  });

  test("aborting a finished request's Canceller does not touch the connection it left in the pool", async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const raw = await rawServer((request) => {
      if (raw.requests.length === 1) request.conn.socket.write(ok('first'));
      else void released.then(() => request.conn.socket.write(ok('second')));
    });
    const upstream = client();
    const done = new Canceller();
    expect(await (await post(upstream, raw.url(), '{}', done)).text()).toBe('first');
    const second = post(upstream, raw.url()).then((reply) => reply.text());
    await until(() => raw.requests.length === 2, 'the second request reaching the server');
    expect(raw.conns).toHaveLength(1);
    done.abort(new Error('late'));
    release();
    expect(await settle(second, 'the second request')).toBe('second');
  });
});

describe('a reader slower than the backend', () => {
  test('a stream nobody reads stops being read off the socket (the backend is held back), and arrives whole once read', async () => {
    const piece = Buffer.alloc(64 * 1024, 'x');
    const pieces = 1024; // 64 MiB: more than loopback's socket buffers hold
    let written = 0;
    let finished = false;
    await rawServer(({ conn }) => {
      const { socket } = conn;
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n');
      const more = () => {
        while (written < pieces) {
          written++;
          if (!socket.write(`${piece.length.toString(16)}\r\n${piece.toString('latin1')}\r\n`)) return void socket.once('drain', more);
        }
        socket.end('0\r\n\r\n');
        finished = true;
      };
      more();
    }).then(async (raw) => {
      const reply = await settle(post(client(), raw.url()), 'post');
      const reader = reply.reader()!;
      // Nothing is read for a while: the client holds at most about a megabyte, the kernel a few.
      await sleep(300);
      expect(finished).toBe(false);
      expect(written).toBeLessThan(pieces / 4);
      let bytes = 0;
      for (;;) {
        const { done, value } = await settle(reader.read(), 'read');
        if (done) break;
        bytes += value.length;
      }
      expect(bytes).toBe(piece.length * pieces);
      expect(finished).toBe(true);
    });
  });
});

describe('connecting', () => {
  test('a backend that never completes the connection: post() rejects after connectTimeoutMs, as unreachable', async () => {
    const wedged = await neverAccepting();
    try {
      const error = await rejection(
        post(client({ connectTimeoutMs: 200 }), `http://127.0.0.1:${wedged.port}/v1/chat/completions`),
        'post()',
      );
      expect(String(error)).toMatch(/no connection to the backend within 200 ms/);
    } finally {
      wedged.close();
    }
  });

  test('connectTimeoutMs 0: no connect deadline of its own; the request waits until its own deadline aborts it', async () => {
    const wedged = await neverAccepting();
    try {
      const cancel = new Canceller();
      let outcome = 'pending';
      const replied = post(client({ connectTimeoutMs: 0 }), `http://127.0.0.1:${wedged.port}/v1/chat/completions`, '{}', cancel);
      replied.then(
        () => (outcome = 'resolved'),
        () => (outcome = 'rejected'),
      );
      await sleep(400);
      expect(outcome).toBe('pending');
      cancel.abort(new Error('upstream timeout'));
      expect(String(await rejection(replied, 'post()'))).toMatch(/upstream timeout/);
    } finally {
      wedged.close();
    }
  });
});
