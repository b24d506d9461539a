import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context } from 'hono';
import { afterEach, describe, expect, test } from 'vitest';
import type { HonoEnv } from '../../../src/deps';
import type { Reply, TextStream } from '../../../src/proxy/relay';
import { nodeRequestIO } from '../../../src/runtime/node-request';

// nodeRequestIO writes proxied answers straight onto node:http's response. These run it on a real
// node:http server, with a real client on loopback.

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** A server that answers every request with `reply()` through nodeRequestIO.respond, as the proxy route does. */
async function serve(reply: () => Reply): Promise<{ port: number; marker: Promise<Response> }> {
  let answered!: (response: Response) => void;
  const marker = new Promise<Response>((resolve) => (answered = resolve));
  server = createServer((incoming: IncomingMessage, outgoing: ServerResponse) => {
    const c = { env: { incoming, outgoing }, get: () => 'req_test' } as unknown as Context<HonoEnv>;
    answered(nodeRequestIO.respond(c, reply()));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { port: (server!.address() as AddressInfo).port, marker };
}

/** A stream of `size`-byte pieces, at most `limit` of them; counts what was pulled and whether it was cancelled. */
function pieces(size: number, limit: number) {
  const piece = `data: ${'x'.repeat(size - 8)}\n\n`;
  const seen = { pulled: 0, cancelled: false };
  const stream: TextStream = {
    next: async () => {
      if (seen.pulled === limit) return null;
      seen.pulled++;
      return piece;
    },
    cancel: async () => {
      seen.cancelled = true;
    },
  };
  return { stream, seen };
}

/** Polls until `value()` has not changed for `steady` polls 20 ms apart; returns it. */
async function settled(value: () => number, steady = 10): Promise<number> {
  let last = value();
  for (let same = 0; same < steady; ) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const now = value();
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return last;
}

describe('answers written straight onto node:http', () => {
  test('a JSON answer arrives whole, with its status, headers and exact content-length; the app sees its status', async () => {
    const body = JSON.stringify({ text: 'héllo wörld' });
    const { port, marker } = await serve(() => ({ status: 201, headers: { 'content-type': 'application/json', 'x-a': '1' }, body }));
    const answer = await new Promise<{ status: number; headers: Record<string, unknown>; text: string }>((resolve, reject) => {
      request({ host: '127.0.0.1', port, method: 'POST' }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
      })
        .on('error', reject)
        .end('{}');
    });
    expect(answer).toMatchObject({ status: 201, text: body });
    expect(answer.headers).toMatchObject({
      'content-type': 'application/json',
      'x-a': '1',
      'content-length': String(Buffer.byteLength(body)),
    });
    expect((await marker).status).toBe(201);
  });

  test('a client that stops reading holds the stream back (nothing more is pulled from the backend), and gets all of it once it reads', async () => {
    // 64 KiB pieces, up to 64 MiB: far more than the sockets' buffers hold.
    const { stream, seen } = pieces(64 * 1024, 1024);
    const { port } = await serve(() => ({ status: 200, headers: { 'content-type': 'text/event-stream' }, stream }));
    let received = 0;
    const done = new Promise<void>((resolve, reject) => {
      request({ host: '127.0.0.1', port, method: 'POST' }, (res) => {
        res.pause();
        // Paused: only what the sockets' buffers hold was pulled, then the writer waited.
        void settled(() => seen.pulled).then((pulled) => {
          try {
            expect(pulled).toBeLessThan(1024 / 4);
          } catch (error) {
            reject(error);
            return;
          }
          res.on('data', (chunk: Buffer) => (received += chunk.length));
          res.on('end', () => resolve());
          res.resume();
        });
      })
        .on('error', reject)
        .end('{}');
    });
    await done;
    expect(seen.pulled).toBe(1024);
    expect(received).toBe(1024 * 64 * 1024);
    expect(seen.cancelled).toBe(false);
  });

  test('a client that stops reading and then leaves cancels the stream (the backend is stopped and what was relayed billed)', async () => {
    const { stream, seen } = pieces(64 * 1024, 1024);
    const { port } = await serve(() => ({ status: 200, headers: { 'content-type': 'text/event-stream' }, stream }));
    await new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST' }, (res) => {
        res.pause();
        void settled(() => seen.pulled).then(() => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      req.end('{}');
    });
    await settled(() => Number(seen.cancelled), 5);
    expect(seen.cancelled).toBe(true);
    expect(seen.pulled).toBeLessThan(1024);
  });
});
