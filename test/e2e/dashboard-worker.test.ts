// The dashboard on Cloudflare Workers: the Worker build in workerd (`wrangler dev`, the machine's
// Postgres through the Hyperdrive binding), signed in through its form, the overview drawn from the
// same numbers as the reports API, a CSV button's link answered for the session, and a budget
// changed with the form's CSRF token. The session secret is shared through the database.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { quietWranglerEnv } from '../../scripts/worker-bundle-size';
import { defaultConfigInput } from '../../src/config';
import { openStore } from '../../src/store';
import { type FakeVllm, startFakeVllm } from '../doubles/fake-vllm';
import { createPostgresDatabase } from '../integration/support/databases';

const ADMIN_TOKEN = 'tgadmin_dashboard_worker_operator_token';
let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
let backend: FakeVllm;
let worker: { url: string; output(): string; stop(): Promise<void> };

beforeAll(async () => {
  database = await createPostgresDatabase();
  await (await openStore({ databaseUrl: database.url })).close(); // migrations run from Node, never by the Worker
  backend = await startFakeVllm({ completionTokens: 7 });
  worker = await startWranglerDev(defaultConfigInput(backend.url), database.url);
}, 90_000);

afterAll(async () => {
  await worker?.stop();
  await backend?.close();
  await database?.drop();
});

const admin = (method: string, path: string, body?: unknown) =>
  fetch(`${worker.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

const cookieOf = (response: Response, name: string) =>
  response.headers
    .getSetCookie()
    .find((line) => line.startsWith(`${name}=`))
    ?.split(';')[0];

test('sign in, read the overview and a CSV, change a budget: the dashboard on workerd', async () => {
  const key = (await (await admin('POST', '/admin/keys', { name: 'worker-app' })).json()) as { id: string; key: string };
  const chat = await fetch(`${worker.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4', messages: [{ role: 'user', content: 'hello from the dashboard test' }], max_tokens: 10 }),
  });
  expect(chat.status).toBe(200);
  await chat.text();

  const form = await fetch(`${worker.url}/dashboard/login`);
  const nonce = cookieOf(form, 'tg_login')!;
  const signedIn = await fetch(`${worker.url}/dashboard/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: nonce, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: nonce.split('=')[1]!, token: ADMIN_TOKEN }).toString(),
  });
  expect(signedIn.status).toBe(303);
  const cookie = cookieOf(signedIn, 'tg_session')!;
  expect(cookie).toMatch(/^tg_session=v1\./);

  // The row is written in waitUntil, after the response: wait until the API counts it.
  const today = new Date().toISOString().slice(0, 10);
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  const query = `from=${today}&to=${tomorrow}&tz=UTC`;
  let totals = { requests: 0, cost: '0' };
  for (let i = 0; i < 100 && totals.requests === 0; i++) {
    totals = ((await (await admin('GET', `/reports/usage?${query}`)).json()) as { totals: typeof totals }).totals;
    if (totals.requests === 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(totals.requests).toBe(1);

  const overview = await fetch(`${worker.url}/dashboard?${query}&bucket=hour`, { headers: { cookie } });
  expect(overview.status).toBe(200);
  expect(overview.headers.get('content-security-policy')).toContain("default-src 'none'");
  const html = await overview.text();
  expect(html).toContain(`data-kpi="cost" data-value="${totals.cost}"`);
  const marks = [...html.matchAll(/<rect class="s\d" [^>]*data-series="gpt-4" data-cost="([^"]+)"/g)].map((match) => match[1]);
  expect(marks).toEqual([totals.cost, totals.cost]); // the wide and the narrow drawing

  const csvHref = /data-csv="([^"]*groupBy=model&amp;top=6[^"]*)"/.exec(html)![1]!.replaceAll('&amp;', '&');
  const viaSession = await fetch(`${worker.url}${csvHref}`, { headers: { cookie } });
  const viaBearer = await admin('GET', csvHref);
  expect(viaSession.status).toBe(200);
  expect(await viaSession.text()).toBe(await viaBearer.text());

  const budgets = await (await fetch(`${worker.url}/dashboard/budgets`, { headers: { cookie } })).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(budgets)![1]!;
  const set = await fetch(`${worker.url}/dashboard/keys/${key.id}/budget`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, limit: '4.25', period: 'month', timezone: 'UTC' }).toString(),
  });
  expect(set.status).toBe(303);
  expect(await (await admin('GET', `/admin/keys/${key.id}/budget`)).json()).toMatchObject({ limit: '4.25' });
  const refused = await fetch(`${worker.url}/dashboard/keys/${key.id}/budget`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ limit: '1', period: 'month' }).toString(),
  });
  expect(refused.status).toBe(403);
}, 60_000);

/** `wrangler dev` of wrangler.toml on loopback, its Hyperdrive binding pointed at `databaseUrl`. */
async function startWranglerDev(config: unknown, databaseUrl: string): Promise<typeof worker> {
  const [port, inspectorPort] = [await freePort(), await freePort()];
  const persistTo = mkdtempSync(join(tmpdir(), 'tollgate-wrangler-'));
  const hyperdriveUrl = new URL(databaseUrl);
  if (!hyperdriveUrl.password) hyperdriveUrl.password = 'unused'; // the local proxy wants one; trust auth ignores it
  const child = spawn(
    join(process.cwd(), 'node_modules/.bin/wrangler'),
    [
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
      '--var',
      `TOLLGATE_CONFIG:${JSON.stringify(config)}`,
      '--var',
      `TOLLGATE_ADMIN_TOKEN:${ADMIN_TOKEN}`,
    ],
    {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: quietWranglerEnv({ CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: hyperdriveUrl.toString(), NODE_ENV: 'test' }),
    },
  );
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    await killGroup(child, exited);
    rmSync(persistTo, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not answer /healthz:\n${output}`);
    }
    if (
      await fetch(`${url}/healthz`).then(
        (response) => response.ok,
        () => false,
      )
    )
      break;
    await new Promise((resolve) => setTimeout(resolve, 200));
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

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
