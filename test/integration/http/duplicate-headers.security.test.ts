import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { ADMIN_TOKEN, startTestGateway, type TestGateway, testConfig } from '../../support/gateway';
import { setBudget } from '../billing/ledger-view';
import { databases } from '../support/databases';

// On Node the gateway reads request headers off node:http's parsed ones. A hostile client sends a
// header twice, hoping the copy that authenticates and the copy that is acted on differ.

/** One raw HTTP/1.1 request with the given header lines, as a client that repeats headers sends it. */
function raw(url: string, lines: [string, string][], body: string) {
  const { hostname, port } = new URL(url);
  return new Promise<{ status: number; headers: Record<string, string>; body: string }>((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      const head = [
        'POST /v1/chat/completions HTTP/1.1',
        `host: ${hostname}:${port}`,
        'content-type: application/json',
        `content-length: ${Buffer.byteLength(body)}`,
        'connection: close',
        ...lines.map(([name, value]) => `${name}: ${value}`),
      ];
      socket.write(`${head.join('\r\n')}\r\n\r\n${body}`);
    });
    let text = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head, ...rest] = text.split('\r\n\r\n');
      const [statusLine, ...headerLines] = head!.split('\r\n');
      const headers = Object.fromEntries(
        headerLines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
      );
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
  });
}

describe.each(databases)('repeated request headers on $name', (database) => {
  let backend: FakeVllm;
  let gateway: TestGateway;
  const body = JSON.stringify({ model: 'gpt-4', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });

  beforeAll(async () => {
    backend = await startFakeVllm();
    gateway = await startTestGateway({ store: await database.open(), config: testConfig(backend.url) });
  });
  afterAll(async () => {
    await gateway?.stop();
    await gateway?.store.close();
    await backend?.close();
  });

  test('two Authorization headers: the first one decides, and the request is billed to that key alone', async () => {
    const key = await gateway.createKey({ name: 'first' });
    const other = await gateway.createKey({ name: 'second' });
    await setBudget(gateway.admin, other.id, '10');
    const answer = await raw(
      gateway.url,
      [
        ['authorization', `Bearer ${key.key}`],
        ['authorization', `Bearer ${other.key}`],
      ],
      body,
    );
    expect(answer.status).toBe(200);
    await gateway.ledger.flush(10_000);
    const row = await (await gateway.admin('GET', `/admin/requests/${answer.headers['x-request-id']}?keyId=${key.id}`)).json();
    expect(row).toMatchObject({ keyId: key.id, status: 'ok' });
    const otherUsage = await (await gateway.admin('GET', `/admin/keys/${other.id}/budget`)).json();
    expect(otherUsage).toMatchObject({ spent: '0', reserved: '0' });

    // The operator token first: it does not proxy, whatever follows it.
    const operatorFirst = await raw(
      gateway.url,
      [
        ['authorization', `Bearer ${ADMIN_TOKEN}`],
        ['authorization', `Bearer ${key.key}`],
      ],
      body,
    );
    expect(operatorFirst.status).toBe(403);
    expect(JSON.parse(operatorFirst.body).error.code).toBe('insufficient_scope');
  });

  test('two x-request-id headers are not a client-chosen id: the gateway picks its own', async () => {
    const key = await gateway.createKey({ name: 'ids' });
    const answer = await raw(
      gateway.url,
      [
        ['authorization', `Bearer ${key.key}`],
        ['x-request-id', 'mine-1'],
        ['x-request-id', 'mine-2'],
      ],
      body,
    );
    expect(answer.status).toBe(200);
    expect(answer.headers['x-request-id']).toMatch(/^req_[0-9a-f]{32}$/);
  });

  test('two context policies that disagree are refused with a 400 and nothing reaches the backend', async () => {
    const key = await gateway.createKey({ name: 'policy' });
    const before = backend.received.length;
    const answer = await raw(
      gateway.url,
      [
        ['authorization', `Bearer ${key.key}`],
        ['x-tollgate-context-policy', 'route'],
        ['x-tollgate-context-policy', 'reject'],
      ],
      body,
    );
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).error).toMatchObject({ param: 'x-tollgate-context-policy', code: 'invalid_value' });
    expect(backend.received.length).toBe(before);
  });
});
