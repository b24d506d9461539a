// A gateway over several fake vLLM replicas, wired as the Node entry wires it (replica pool,
// Prometheus instruments, request log, reload from a config file), in this process on loopback.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { sql } from 'drizzle-orm';
import { BudgetAlerts } from '../../../src/alerts';
import { createApp } from '../../../src/app';
import { ReplicaPool } from '../../../src/backends';
import { type Config, defaultConfigInput, loadConfig } from '../../../src/config';
import type { Deps } from '../../../src/deps';
import { buildDeps, nodeLedger } from '../../../src/gateway';
import { Instruments } from '../../../src/metrics';
import { http1UpstreamClient } from '../../../src/runtime/http1-client';
import { nodeRequestIO } from '../../../src/runtime/node-request';
import type { Store } from '../../../src/store/db';
import type { FailOpenLedger } from '../../../src/usage';
import { type Behavior, type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { ADMIN_TOKEN } from '../../support/gateway';

/** Start `count` fake replicas with the same behavior. */
export async function startReplicas(count: number, behavior: Partial<Behavior> = {}): Promise<FakeVllm[]> {
  return Promise.all(Array.from({ length: count }, () => startFakeVllm(behavior)));
}

/**
 * The seed config with model `gpt-4` served by replicas `r0`…`rN` (one per fake), quick health
 * back-offs for tests, and `patch` applied last.
 */
export function replicaConfigInput(replicas: FakeVllm[], patch: (input: any) => void = () => {}): any {
  const input = defaultConfigInput(replicas[0]!.url) as any;
  input.backends = Object.fromEntries(replicas.map((replica, i) => [`r${i}`, { url: replica.url, timeoutMs: 10_000 }]));
  input.models['gpt-4'].backends = replicas.map((_, i) => `r${i}`);
  delete input.models['gpt-4'].backend;
  input.models['gpt-4-32k'].backend = 'r0';
  input.gateway = { health: { backoffMs: 50, maxBackoffMs: 200 } };
  patch(input);
  return input;
}

export interface ReplicaGateway {
  url: string;
  store: Store;
  ledger: FailOpenLedger;
  instruments: Instruments;
  pool: ReplicaPool;
  /** The deps of the config in force (changes after a reload). */
  deps(): Deps;
  /** Every line the gateway logged. */
  logs: string[];
  /** The config file the gateway reloads from. */
  configPath: string;
  /** Writes the config file (JSON, or any text). */
  writeConfig(input: unknown): void;
  admin(method: string, path: string, body?: unknown): Promise<Response>;
  createKey(body?: Record<string, unknown>): Promise<{ id: string; key: string }>;
  /** POST with a key (JSON body). */
  post(key: string, path: string, body: unknown, headers?: Record<string, string>, signal?: AbortSignal): Promise<Response>;
  /** Writes every queued ledger row. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export async function startReplicaGateway(opts: { store: Store; config: unknown; connectTimeoutMs?: number }): Promise<ReplicaGateway> {
  const logs: string[] = [];
  const log = (line: string) => void logs.push(line);
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-replicas-'));
  const configPath = join(dir, 'tollgate.json');
  const writeConfig = (input: unknown) => writeFileSync(configPath, typeof input === 'string' ? input : JSON.stringify(input));
  writeConfig(opts.config);
  const readConfig = (): Config => loadConfig(readFileSync(configPath, 'utf8'));
  const config = readConfig();
  const alerts = new BudgetAlerts({ store: opts.store, fetch: (input, init) => fetch(input, init), log, now: () => new Date() });
  const instruments = new Instruments({ perKey: config.gateway.metrics.perKey, processMetrics: false });
  const { ledger } = nodeLedger(opts.store, alerts, { log, onCommit: (commit) => instruments.committed(commit, Date.now()) });
  const pool = new ReplicaPool(config);
  const deps = await buildDeps({
    config,
    store: opts.store,
    ledger,
    alerts,
    adminToken: ADMIN_TOKEN,
    log,
    upstream: http1UpstreamClient({ connectTimeoutMs: opts.connectTimeoutMs }),
    io: nodeRequestIO,
    failOpenAdmitted: () => ledger.failOpenAdmitted,
    pool,
    metrics: instruments,
    readConfig,
    onReload: (next) => {
      instruments.perKey = next.gateway.metrics.perKey;
    },
  });
  instruments.watch({ pool, ledgerWaiting: () => ledger.waiting, failOpenAdmitted: () => ledger.failOpenAdmitted });
  const app = createApp(deps);
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
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
    instruments,
    pool,
    deps: () => deps.current!(),
    logs,
    configPath,
    writeConfig,
    admin,
    async createKey(body = {}) {
      const response = await admin('POST', '/admin/keys', { name: 'test', ...body });
      if (response.status !== 201) throw new Error(`creating a key failed: ${response.status} ${await response.text()}`);
      return (await response.json()) as { id: string; key: string };
    },
    post: (key, path, body, headers = {}, signal) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
        signal,
      }),
    flush: () => ledger.flush(10_000),
    async stop() {
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await ledger.flush(10_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A chat request body. */
export const chat = (patch: Record<string, unknown> = {}) => ({
  model: 'gpt-4',
  messages: [{ role: 'user', content: 'Say something.' }],
  max_tokens: 20,
  ...patch,
});

/** A key's final rows as the ledger holds them, once none is pending. */
export async function ledgerRows(gateway: ReplicaGateway, keyId: string) {
  for (let tries = 0; ; tries++) {
    await gateway.flush();
    const rows = await gateway.store.rows<{
      request_id: string;
      status: string;
      error_code: string | null;
      attempts: number;
      replica: string | null;
      traceparent: string | null;
      prompt_tokens: string;
      completion_tokens: string;
      billed_cost: string;
      reserved_cost: string;
      price_id: number | null;
    }>(sql`
      SELECT request_id, status, error_code, attempts, replica, traceparent, prompt_tokens::text, completion_tokens::text,
        billed_cost::text, reserved_cost::text, price_id
      FROM usage_events WHERE key_id = ${keyId} ORDER BY started_at, request_id`);
    if (rows.every((row) => row.status !== 'pending')) return rows;
    if (tries > 400) throw new Error(`rows of ${keyId} still pending`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** POSTed chat requests the replica answered (its /health and /models probes left out). */
export const served = (replica: FakeVllm) => replica.received.filter((request) => request.method === 'POST');

/** Polls until `check` holds (waiting for an event, not timing one). */
export async function until(what: string, check: () => boolean | Promise<boolean>, capMs = 20_000): Promise<void> {
  const deadline = Date.now() + capMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`waited ${capMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
