import type { Hono } from 'hono';
import { BudgetAlerts } from '../../src/alerts';
import { createApp } from '../../src/app';
import type { Config } from '../../src/config';
import type { HonoEnv } from '../../src/deps';
import { buildDeps, nodeLedger } from '../../src/gateway';
import type { Store } from '../../src/store/db';
import type { FailOpenLedger } from '../../src/usage';
import { ADMIN_TOKEN } from './gateway';

/** The gateway as `createApp` builds it, driven with `app.request` (no port), with what it logged. */
export interface TestApp {
  app: Hono<HonoEnv>;
  store: Store;
  ledger: FailOpenLedger;
  config: Config;
  /** Every line the gateway logged (internal errors included). */
  logs: string[];
  /** A request with a key's bearer secret (JSON bodies are serialised; strings and streams go as they are). */
  call(key: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  /** Calls the admin API with the operator token. */
  admin(method: string, path: string, body?: unknown): Promise<Response>;
  /** Creates a key through the admin API and returns its secret and id. */
  createKey(body?: Record<string, unknown>): Promise<{ id: string; key: string }>;
  /** Writes every queued ledger row. */
  flush(): Promise<void>;
}

/**
 * The real app on `store`, with the web request reader and upstream client (the defaults), and
 * the ledger `npm start` uses; no listening socket.
 *
 * @example
 * const gateway = await buildTestApp({ store, config: testConfig(backend.url) });
 * const { key } = await gateway.createKey();
 * const response = await gateway.call(key, '/v1/estimate', { model: 'gpt-4', prompt: 'hi' });
 */
export async function buildTestApp(opts: { store: Store; config: Config; now?: () => Date }): Promise<TestApp> {
  const logs: string[] = [];
  const log = (line: string) => void logs.push(line);
  const now = opts.now ?? (() => new Date());
  const fetchFn: typeof fetch = (input, init) => fetch(input, init);
  const alerts = new BudgetAlerts({ store: opts.store, webhookUrl: opts.config.gateway.alertWebhookUrl, fetch: fetchFn, log, now });
  const { ledger } = nodeLedger(opts.store, alerts, { log });
  const deps = await buildDeps({ config: opts.config, store: opts.store, ledger, alerts, adminToken: ADMIN_TOKEN, log, now });
  const app = createApp(deps);

  const send = (token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> => {
    const init: RequestInit & { duplex?: 'half' } = {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    };
    if (body instanceof ReadableStream) {
      init.body = body;
      init.duplex = 'half';
    } else if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
    return Promise.resolve(app.request(path, init));
  };
  const admin = (method: string, path: string, body?: unknown) => send(ADMIN_TOKEN, method, path, body);
  return {
    app,
    store: opts.store,
    ledger,
    config: opts.config,
    logs,
    call: (key, path, body, headers) => send(key, 'POST', path, body, headers),
    admin,
    async createKey(body = {}) {
      const response = await admin('POST', '/admin/keys', { name: 'test', ...body });
      if (response.status !== 201) throw new Error(`creating a key failed: ${response.status} ${await response.text()}`);
      const created = (await response.json()) as { id: string; key: string };
      return { id: created.id, key: created.key };
    },
    flush: () => ledger.flush(10_000),
  };
}
