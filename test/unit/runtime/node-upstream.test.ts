import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { Canceller } from '../../../src/cancel';
import { nodeUpstreamClient } from '../../../src/runtime/node-upstream';

// The Node backend client writes its request head itself (a flat header list): what a backend
// receives must be what node:http would have sent from an options object. A real node:http server
// records each request's raw head.

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

interface Seen {
  method: string;
  url: string;
  headers: [string, string][];
  body: string;
}

async function backend(host: '127.0.0.1' | '::1'): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (text: string) => (body += text));
    req.on('end', () => {
      const headers: [string, string][] = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i]!.toLowerCase(), req.rawHeaders[i + 1]!]);
      seen.push({ method: req.method!, url: req.url!, headers, body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, host, resolve));
  return { port: (server!.address() as AddressInfo).port, seen };
}

const named = (seen: Seen, name: string) => seen.headers.filter(([key]) => key === name).map(([, value]) => value);

describe('nodeUpstreamClient: the request head a backend receives', () => {
  test('Host, the body length and the given headers, once each, and the body byte for byte', async () => {
    const { port, seen } = await backend('127.0.0.1');
    const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'héllo ✓' }] });
    const reply = await nodeUpstreamClient().post(`http://127.0.0.1:${port}/v1/chat/completions?x=1`, {
      headers: { 'content-type': 'application/json', 'x-request-id': 'req_1', authorization: 'Bearer backend-key' },
      body,
      signal: new Canceller(),
    });
    expect(reply.status).toBe(200);
    expect(await reply.text()).toBe('{"ok":true}');
    const [request] = seen;
    expect(request).toMatchObject({ method: 'POST', url: '/v1/chat/completions?x=1', body });
    expect(named(request!, 'host')).toEqual([`127.0.0.1:${port}`]);
    expect(named(request!, 'content-length')).toEqual([String(Buffer.byteLength(body))]);
    expect(named(request!, 'authorization')).toEqual(['Bearer backend-key']);
    expect(named(request!, 'x-request-id')).toEqual(['req_1']);
    expect(named(request!, 'connection')).toEqual(['keep-alive']);
  });

  test("credentials in the backend's URL become Basic auth, unless the backend has an API key", async () => {
    const { port, seen } = await backend('127.0.0.1');
    const client = nodeUpstreamClient();
    const url = `http://svc:p%40ss@127.0.0.1:${port}/v1/completions`;
    await (await client.post(url, { headers: { 'content-type': 'application/json' }, body: '{}', signal: new Canceller() })).text();
    await (
      await client.post(url, {
        headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
        body: '{}',
        signal: new Canceller(),
      })
    ).text();
    expect(named(seen[0]!, 'authorization')).toEqual([`Basic ${Buffer.from('svc:p@ss').toString('base64')}`]);
    expect(named(seen[1]!, 'authorization')).toEqual(['Bearer k']);
    expect(seen[0]!.url).toBe('/v1/completions');
  });

  test('an IPv6 backend gets its Host in brackets', async () => {
    const { port, seen } = await backend('::1');
    await (
      await nodeUpstreamClient().post(`http://[::1]:${port}/v1/embeddings`, { headers: {}, body: '{}', signal: new Canceller() })
    ).text();
    expect(named(seen[0]!, 'host')).toEqual([`[::1]:${port}`]);
  });

  test('a request cancelled before it is sent never reaches the backend and rejects', async () => {
    const { port, seen } = await backend('127.0.0.1');
    const cancel = new Canceller();
    cancel.abort(new Error('client disconnected'));
    await expect(
      nodeUpstreamClient().post(`http://127.0.0.1:${port}/v1/chat/completions`, { headers: {}, body: '{}', signal: cancel }),
    ).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen).toEqual([]);
  });
});
