import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { BudgetAlerts } from '../../src/alerts';
import { createApp } from '../../src/app';
import { type Config, defaultConfigInput, parseConfig } from '../../src/config';
import { buildDeps, nodeLedger } from '../../src/gateway';
import { http1UpstreamClient } from '../../src/runtime/http1-client';
import { nodeRequestIO } from '../../src/runtime/node-request';
import { KEEP_ALIVE_TIMEOUT_MS } from '../../src/runtime/node-server';
import type { Store } from '../../src/store/db';
import type { FailOpenLedger } from '../../src/usage';

export const ADMIN_TOKEN = 'tgadmin_test_operator_token';

/** The seed config pointed at a fake backend, with optional changes. */
export function testConfig(backendUrl: string, patch: (input: any) => void = () => {}): Config {
  const input = defaultConfigInput(backendUrl) as any;
  patch(input);
  return parseConfig(input);
}

export interface TestGateway {
  url: string;
  store: Store;
  ledger: FailOpenLedger;
  config: Config;
  /** Calls the admin API with the operator token. */
  admin(method: string, path: string, body?: unknown): Promise<Response>;
  /** Creates a key through the admin API and returns its secret and id. */
  createKey(body?: Record<string, unknown>): Promise<{ id: string; key: string }>;
  stop(): Promise<void>;
}

/** The real app over real HTTP on loopback, in this process, on the given store. */
export async function startTestGateway(opts: { store: Store; config: Config; now?: () => Date }): Promise<TestGateway> {
  const log = () => {};
  const now = opts.now ?? (() => new Date());
  const alerts = new BudgetAlerts({
    store: opts.store,
    webhookUrl: opts.config.gateway.alertWebhookUrl,
    fetch: (input, init) => fetch(input, init),
    log,
    now,
  });
  // The ledger, upstream client and request reader `npm start` uses, so these tests cover them.
  const { ledger } = nodeLedger(opts.store, alerts, { log });
  const deps = await buildDeps({
    config: opts.config,
    store: opts.store,
    ledger,
    alerts,
    adminToken: ADMIN_TOKEN,
    log,
    now,
    upstream: http1UpstreamClient(),
    io: nodeRequestIO,
    failOpenAdmitted: () => ledger.failOpenAdmitted,
  });
  const app = createApp(deps);
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    // `npm start`'s keep-alive timing: a pooled connection idle for a few seconds is still open when reused.
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1', serverOptions: { keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS } }, () =>
      resolve(s),
    );
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const admin = (method: string, path: string, body?: unknown) =>
    fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  return {
    url,
    store: opts.store,
    ledger,
    config: opts.config,
    admin,
    async createKey(body = {}) {
      const response = await admin('POST', '/admin/keys', { name: 'test', ...body });
      if (response.status !== 201) throw new Error(`creating a key failed: ${response.status} ${await response.text()}`);
      const created = (await response.json()) as { id: string; key: string };
      return { id: created.id, key: created.key };
    },
    async stop() {
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await ledger.flush(10_000);
    },
  };
}

export interface GatewayProcess {
  url: string;
  adminToken: string;
  child: ChildProcess;
  /** Everything the process printed. */
  output(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL: no shutdown work at all. */
  kill(): Promise<void>;
}

/** The Node flags of package.json's start script (source maps, heap sizing), so what runs here is what `npm start` runs. */
function startFlags(): string[] {
  const { scripts } = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { scripts: { start: string } };
  return scripts.start.split(/\s+/).filter((word) => word.startsWith('--'));
}

/**
 * The built server as `npm start` and a service manager run it (`node dist/node.js`; the vitest
 * globalSetup builds dist/ once per run), on a temporary PGlite folder unless env says otherwise,
 * with a known operator token. `child` is the server itself, so signals reach it directly.
 */
export async function startGatewayProcess(
  opts: {
    env?: Record<string, string>;
    config?: unknown /** Another build's entry (bench/peers.ts: an earlier HEAD). */;
    server?: string;
  } = {},
): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-'));
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PORT: '0',
    TOLLGATE_DATA_DIR: join(dir, 'data'),
    TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN,
    ...opts.env,
  };
  if (opts.config !== undefined) {
    writeFileSync(join(dir, 'config.json'), JSON.stringify(opts.config));
    env.TOLLGATE_CONFIG = join(dir, 'config.json');
  }
  const server = opts.server ?? join(process.cwd(), 'dist/node.js');
  if (!existsSync(server)) throw new Error('dist/node.js is missing: run `npm run build` (vitest builds it in its globalSetup)');
  // Its own process group, so bench/overhead.ts can add up the CPU of everything it runs.
  const child = spawn(process.execPath, [...startFlags(), server], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const killServer = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killServer);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start in 90 s:\n${output}`)), 90_000);
    const onData = () => {
      const match = /listening on (http:\/\/[\d.]+:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code}:\n${output}`));
    });
  });
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  return {
    url,
    adminToken: ADMIN_TOKEN,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      cleanup();
    },
    async kill() {
      killServer();
      await exited;
    },
  };
}
