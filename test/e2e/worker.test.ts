// The Worker build, proven in workerd: `wrangler dev` on loopback, the real Postgres of this
// machine through the Hyperdrive binding, the fake vLLM backend, and the official OpenAI SDK.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { BadRequestError, RateLimitError } from 'openai';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { describeBundle, FREE_PLAN_LIMIT_BYTES, measureWorkerBundle, quietWranglerEnv } from '../../scripts/worker-bundle-size';
import { defaultConfigInput } from '../../src/config';
import { costOf, formatUsd, parsePricePer1k } from '../../src/pricing';
import { openStore } from '../../src/store';
import { type FakeVllm, startFakeVllm } from '../doubles/fake-vllm';
import { createPostgresDatabase } from '../integration/support/databases';

const ADMIN_TOKEN = 'tgadmin_worker_e2e_operator_token';
const RUN = Math.random().toString(36).slice(2, 8);
const messages = [{ role: 'user' as const, content: 'Say hello.' }];
/** gpt-4 in the seed config. */
const GPT4_PRICE = { promptPer1k: parsePricePer1k('0.03'), completionPer1k: parsePricePer1k('0.06') };

let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
let sql: postgres.Sql;
let backend: FakeVllm;
let worker: WranglerDev;
let client: OpenAI;
let webhook: { url: string; received: { type: string; alert: { keyId: string } }[]; server: Server };

beforeAll(async () => {
  database = await createPostgresDatabase();
  await (await openStore({ databaseUrl: database.url })).close(); // migrations run from Node, never by the Worker
  sql = postgres(database.url, { max: 2, onnotice: () => {} });
  backend = await startFakeVllm();
  webhook = await startWebhook();
  const config = defaultConfigInput(backend.url) as { backends: Record<string, { timeoutMs: number }>; gateway?: unknown };
  config.backends['gpu-a']!.timeoutMs = 20_000;
  config.gateway = { alertWebhookUrl: webhook.url };
  worker = await startWranglerDev({ config, databaseUrl: database.url });
  client = new OpenAI({ apiKey: (await createKey('worker-e2e')).key, baseURL: `${worker.url}/v1`, maxRetries: 0 });
}, 90_000);

afterAll(async () => {
  if (process.env.TOLLGATE_WORKER_LOG) console.log(worker?.output()); // wrangler's and the Worker's own log lines
  await worker?.stop();
  await backend?.close();
  webhook?.server.closeAllConnections();
  await new Promise((resolve) => (webhook ? webhook.server.close(resolve) : resolve(undefined)));
  await sql?.end({ timeout: 5 });
  await database?.drop();
});

describe('the Worker build (wrangler deploy --dry-run)', () => {
  test('bundles under the free plan limit, with PGlite left out', async () => {
    const bundle = await measureWorkerBundle();
    console.log(describeBundle(bundle));
    expect(bundle.gzipBytes).toBeLessThan(FREE_PLAN_LIMIT_BYTES);
    expect(bundle.hasPglite).toBe(false);
    expect(bundle.encodings).toContain('cl100k_base');
  }, 60_000);
});

describe('the Worker in workerd with the OpenAI SDK', () => {
  test('chat, not streamed: the reply, and a settled ledger row billed at usage.cost', async () => {
    const requestId = `req_${RUN}_plain`;
    const data = await client.chat.completions.create(
      { model: 'gpt-4', messages, max_tokens: 20 },
      { headers: { 'x-request-id': requestId } },
    );
    expect(data.choices[0]!.message.content).toBe(' tok tok tok tok tok');
    const usage = data.usage as OpenAI.CompletionUsage & { cost: string };
    expect(usage.completion_tokens).toBe(5);
    const row = await settledRow(requestId);
    expect(row).toMatchObject({ status: 'ok', usage_source: 'upstream', prompt_tokens: usage.prompt_tokens, completion_tokens: 5 });
    expect(formatUsd(BigInt(row.billed_cost))).toBe(usage.cost);
  });

  test('chat, streamed: chunks arrive while the backend is still generating; the usage chunk and the row agree', async () => {
    const requestId = `req_${RUN}_stream`;
    let open!: () => void;
    backend.behave({ gate: new Promise<void>((resolve) => (open = resolve)) });
    // Were the stream buffered, nothing would arrive before the gate opened: fail fast, not hang.
    let openedLive = true;
    const fallback = setTimeout(() => {
      openedLive = false;
      open();
    }, 10_000);
    try {
      const stream = await client.chat.completions.create(
        { model: 'gpt-4', messages, max_tokens: 4, stream: true, stream_options: { include_usage: true } },
        { headers: { 'x-request-id': requestId } },
      );
      let text = '';
      let usage: (OpenAI.CompletionUsage & { cost?: string }) | undefined;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        // The backend holds its last token until the gate opens: what we have so far was relayed live.
        if (text === ' tok tok tok') open();
        if (chunk.usage) usage = chunk.usage;
      }
      expect(openedLive).toBe(true);
      expect(text).toBe(' tok tok tok tok');
      expect(usage).toMatchObject({ completion_tokens: 4 });
      const row = await settledRow(requestId);
      expect(row).toMatchObject({ status: 'ok', stream: true, completion_tokens: 4 });
      expect(formatUsd(BigInt(row.billed_cost))).toBe(usage!.cost);
    } finally {
      clearTimeout(fallback);
      open();
      backend.reset();
    }
  });

  test('a client that goes away mid-stream: upstream is aborted and the row bills what was generated', async () => {
    const requestId = `req_${RUN}_abort`;
    backend.behave({ completionTokens: 200, chunkDelayMs: 50, omitUsage: true });
    try {
      const stream = await client.chat.completions.create(
        { model: 'gpt-4', messages, max_tokens: 500, stream: true },
        { headers: { 'x-request-id': requestId } },
      );
      let chunks = 0;
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content && ++chunks === 3) break; // leaving the loop aborts the request
      }
      const row = await settledRow(requestId);
      expect(row).toMatchObject({ status: 'client_disconnected', usage_source: 'gateway' });
      expect(row.completion_tokens).toBeGreaterThanOrEqual(3);
      expect(row.completion_tokens).toBeLessThan(200);
      // As on Node: the prompt and what was generated so far, by the gateway's own count.
      expect(BigInt(row.billed_cost)).toBe(
        costOf(GPT4_PRICE, { promptTokens: row.prompt_tokens, completionTokens: row.completion_tokens }).total,
      );
      expect(row.prompt_tokens).toBeGreaterThan(0);
      await until(() => backend.received.at(-1)?.aborted === true, 'the backend to see the abort');
    } finally {
      backend.reset();
    }
  });

  test('a prompt that cannot fit: 400 context_length_exceeded and a rejected row', async () => {
    const requestId = `req_${RUN}_context`;
    const error = await client.chat.completions
      .create(
        { model: 'gpt-4', messages, max_tokens: 9_000 },
        { headers: { 'x-request-id': requestId, 'x-tollgate-context-policy': 'reject' } },
      )
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).code).toBe('context_length_exceeded');
    expect(await settledRow(requestId)).toMatchObject({ status: 'rejected', billed_cost: '0' });
    expect(backend.received.filter((request) => request.headers['x-request-id'] === requestId)).toHaveLength(0);
  });

  test('a key over its budget: 429 insufficient_quota, nothing sent upstream, the limit alert delivered', async () => {
    const key = await createKey('worker-e2e-budget');
    const budget = await admin('PUT', `/admin/keys/${key.id}/budget`, { limit: '0.000001', period: 'month' });
    expect(budget.status).toBe(200);
    const requestId = `req_${RUN}_budget`;
    const broke = new OpenAI({ apiKey: key.key, baseURL: `${worker.url}/v1`, maxRetries: 0 });
    const error = await broke.chat.completions
      .create({ model: 'gpt-4', messages, max_tokens: 20 }, { headers: { 'x-request-id': requestId } })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).code).toBe('insufficient_quota');
    expect(await settledRow(requestId)).toMatchObject({ status: 'rejected', error_code: 'insufficient_quota', billed_cost: '0' });
    expect(backend.received.filter((request) => request.headers['x-request-id'] === requestId)).toHaveLength(0);
    // The webhook answers slowly: its delivery, and the row marking it, outlive the response.
    await until(
      () => webhook.received.some((event) => event.type === 'budget.limit' && event.alert.keyId === key.id),
      'the limit alert at the webhook',
    );
    await until(
      async () =>
        (await sql`SELECT 1 FROM budget_alerts WHERE key_id = ${key.id} AND kind = 'limit' AND delivered_at IS NOT NULL`).length === 1,
      'the alert marked delivered',
    );
  });

  test('concurrent requests in one isolate each settle on their own connection', async () => {
    const ids = Array.from({ length: 12 }, (_, index) => `req_${RUN}_concurrent_${index}`);
    const costs = await Promise.all(
      ids.map(async (requestId, index) => {
        if (index % 2 === 0) {
          const data = await client.chat.completions.create(
            { model: 'gpt-4', messages, max_tokens: 3 },
            { headers: { 'x-request-id': requestId } },
          );
          return (data.usage as OpenAI.CompletionUsage & { cost: string }).cost;
        }
        const stream = await client.chat.completions.create(
          { model: 'gpt-4', messages, max_tokens: 3, stream: true, stream_options: { include_usage: true } },
          { headers: { 'x-request-id': requestId } },
        );
        let cost = '';
        for await (const chunk of stream) if (chunk.usage) cost = (chunk.usage as { cost?: string }).cost ?? '';
        return cost;
      }),
    );
    for (const [index, requestId] of ids.entries()) {
      const row = await settledRow(requestId);
      expect(row.status).toBe('ok');
      expect(formatUsd(BigInt(row.billed_cost))).toBe(costs[index]);
    }
  });

  test('the cron trigger sweeps a row abandoned as pending', async () => {
    const requestId = `req_${RUN}_seed`;
    await client.chat.completions.create({ model: 'gpt-4', messages, max_tokens: 1 }, { headers: { 'x-request-id': requestId } });
    const abandoned = `req_${RUN}_abandoned`;
    // What an invocation killed between admit and settle leaves behind.
    await sql`
      INSERT INTO usage_events (request_id, key_id, endpoint, requested_model, routed_model, backend, status, stream, prompt_tokens_estimated, max_completion_tokens, price_id, started_at, started_month)
      SELECT ${abandoned}, key_id, endpoint, requested_model, routed_model, backend, 'pending', false, 10, 10, price_id, now() - interval '1 hour', started_month
      FROM usage_events WHERE request_id = ${requestId}`;
    const response = await fetch(`${worker.url}/__scheduled?cron=${encodeURIComponent('*/10 * * * *')}`);
    expect(response.status).toBe(200);
    expect(await settledRow(abandoned)).toMatchObject({
      status: 'incomplete',
      error_code: 'swept',
      prompt_tokens: 10,
      billed_cost: String(costOf(GPT4_PRICE, { promptTokens: 10, completionTokens: 0 }).total),
    });
  });

  test('no row is left pending', async () => {
    const pending = await sql`SELECT request_id FROM usage_events WHERE status = 'pending'`;
    expect(pending).toEqual([]);
    // workerd reports a connection or promise shared across requests; none may appear.
    expect(worker.output()).not.toMatch(/different request|Cannot perform I\/O|Uncaught/i);
  });
});

async function admin(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${worker.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function createKey(name: string): Promise<{ id: string; key: string }> {
  const response = await admin('POST', '/admin/keys', { name });
  if (response.status !== 201) throw new Error(`creating a key failed: ${response.status} ${await response.text()}`);
  return (await response.json()) as { id: string; key: string };
}

interface UsageRow {
  status: string;
  stream: boolean;
  usage_source: string;
  prompt_tokens: number;
  completion_tokens: number;
  billed_cost: string;
  error_code: string | null;
}

/** The request's ledger row once it is final: the Worker writes it in waitUntil, after the response. */
async function settledRow(requestId: string): Promise<UsageRow> {
  let row: UsageRow | undefined;
  await until(async () => {
    [row] = await sql<UsageRow[]>`
      SELECT status, stream, usage_source, prompt_tokens::int AS prompt_tokens, completion_tokens::int AS completion_tokens, billed_cost::text AS billed_cost, error_code
      FROM usage_events WHERE request_id = ${requestId}`;
    return row !== undefined && row.status !== 'pending';
  }, `a final ledger row for ${requestId}`);
  return row!;
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface WranglerDev {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/**
 * `wrangler dev` in local mode (workerd), on free loopback ports, in its own process group so
 * teardown takes workerd down with it. Ready when /healthz answers.
 */
async function startWranglerDev(opts: { config: unknown; databaseUrl: string }): Promise<WranglerDev> {
  const [port, inspectorPort] = [await freePort(), await freePort()];
  const persistTo = mkdtempSync(join(tmpdir(), 'tollgate-wrangler-'));
  // The local Hyperdrive proxy insists on a password in the URL; trust auth ignores it.
  const hyperdriveUrl = new URL(opts.databaseUrl);
  if (!hyperdriveUrl.password) hyperdriveUrl.password = 'unused';
  const args = [
    'dev',
    '-c',
    'wrangler.toml',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--inspector-port',
    String(inspectorPort),
    '--persist-to',
    persistTo,
    '--show-interactive-dev-session=false',
    '--test-scheduled',
    '--var',
    `TOLLGATE_CONFIG:${JSON.stringify(opts.config)}`,
    '--var',
    `TOLLGATE_ADMIN_TOKEN:${ADMIN_TOKEN}`,
  ];
  const child = spawn(join(process.cwd(), 'node_modules/.bin/wrangler'), args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: quietWranglerEnv({
      CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: hyperdriveUrl.toString(),
      NODE_ENV: 'test', // miniflare then skips fetching Request.cf from the network
    }),
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    await killGroup(child, exited);
    rmSync(persistTo, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await until(
      async () => {
        if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}`);
        return fetch(`${url}/healthz`).then(
          (response) => response.ok,
          () => false,
        );
      },
      'wrangler dev to answer /healthz',
      60_000,
    );
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${output}`);
  }
  return { url, output: () => output, stop };
}

async function killGroup(child: ChildProcess, exited: Promise<void>): Promise<void> {
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, name);
    } catch {
      // the group is already gone
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
  signal('SIGKILL'); // workerd, should it outlive wrangler
}

/** An alert webhook on loopback that takes its time to accept. */
async function startWebhook(): Promise<typeof webhook> {
  const received: (typeof webhook)['received'] = [];
  const server = createHttpServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      received.push(JSON.parse(body));
      setTimeout(() => response.writeHead(204).end(), 300);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`, received, server };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
