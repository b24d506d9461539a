import { Agent, request } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { listen, type NodeServer } from '../../../src/runtime/node-server';

const agent = new Agent({ keepAlive: true });
let server: NodeServer | undefined;

afterEach(async () => {
  agent.destroy();
  await server?.close();
  server = undefined;
});

/** One request over a keep-alive pool, as a load balancer or an SDK sends it: its answer and the connection it used. */
function send(port: number, method: string, body?: string) {
  return new Promise<{ status: number; keepAlive: string | string[] | undefined; text: string; socket: Socket }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', method, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, keepAlive: res.headers['keep-alive'], text, socket: req.socket! }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the Node server', () => {
  test('announces and keeps idle connections for 65 s, past the 60 s idle timeout of load balancers, so the client closes first', async () => {
    server = await listen(() => new Response('ok'), { port: 0, hostname: '127.0.0.1' });
    const first = await send(server.port, 'GET');
    expect(first).toMatchObject({ status: 200, keepAlive: 'timeout=65', text: 'ok' });
    expect((await send(server.port, 'GET')).socket).toBe(first.socket);
  });

  test.each([
    ['GET', undefined],
    ['POST whose body the app does not read', 'x'.repeat(100_000)],
  ])('close() lets the request in flight (%s) finish, then closes its connection instead of keeping it idle', async (_, body) => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const inFlight = new Promise<void>((resolve) => (arrived = resolve));
    server = await listen(
      async () => {
        arrived();
        await held;
        return new Response('answered');
      },
      { port: 0, hostname: '127.0.0.1' },
    );
    const answer = send(server.port, body === undefined ? 'GET' : 'POST', body);
    await inFlight;
    const closed = server.close();
    release();
    const { status, text, socket } = await answer;
    expect({ status, text }).toEqual({ status: 200, text: 'answered' });
    // Without closing it, close() would wait for the keep-alive timeout (65 s, past this test's).
    await closed;
    if (!socket.destroyed) await new Promise((resolve) => socket.once('close', resolve));
    expect(socket.destroyed).toBe(true);
  });
});
