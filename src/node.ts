import { readFileSync } from 'node:fs';
import { serve } from '@hono/node-server';
import { createApp } from './app';
import { ConfigError, loadConfig, type Config } from './config';
import type { Deps } from './deps';
import { buildDeps } from './gateway';
import { nodeUpstreamFetch } from './runtime/node-fetch';
import { openStore } from './store/open';
import { createLedger, startSweeper, sweep } from './usage';

/** Node entry: `npm start`. Everything has a default; see the README for the variables. */
async function main(): Promise<void> {
  const env = process.env;
  const config = readConfig(env.TOLLGATE_CONFIG, env.UPSTREAM_URL);
  const store = await openStore({ databaseUrl: env.DATABASE_URL || undefined, dataDir: env.TOLLGATE_DATA_DIR || undefined });
  const log = (line: string) => console.log(line);
  // Admissions on a Postgres server skip the WAL flush unless asked (README: "The ledger").
  const ledger = createLedger(store, { log, durableAdmissions: env.TOLLGATE_DURABLE_ADMISSIONS === '1' || undefined });
  // A pending row older than the longest backend deadline (plus a grace) can no longer settle by itself.
  const longestTimeout = Math.max(...Object.values(config.backends).map((backend) => backend.timeoutMs));
  const olderThanMs = longestTimeout + Number(env.TOLLGATE_SWEEP_GRACE_MS ?? 30_000);
  const swept = await sweep(store, { olderThanMs });
  if (swept > 0) log(`tollgate: swept ${swept} abandoned request(s) as incomplete`);
  const sweeper = startSweeper(store, { olderThanMs, intervalMs: Number(env.TOLLGATE_SWEEP_INTERVAL_MS ?? 60_000), log });
  const deps = await buildDeps({ config, store, ledger, adminToken: env.TOLLGATE_ADMIN_TOKEN || undefined, log, fetch: nodeUpstreamFetch() });
  const app = createApp(deps);
  const redelivery = startAlertRedelivery(deps, Number(env.TOLLGATE_SWEEP_INTERVAL_MS ?? 60_000), log);

  const port = Number(env.PORT ?? 8787);
  const hostname = env.HOST ?? '127.0.0.1';
  const server = serve({ fetch: app.fetch, port, hostname }, (info) => {
    log(`tollgate: listening on http://${hostname}:${info.port} (database: ${store.kind}, models: ${Object.keys(config.models).join(', ')})`);
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`tollgate: ${signal}: draining requests and the ledger`);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await sweeper.stop();
    clearInterval(redelivery);
    await ledger.flush(10_000);
    if (ledger.waiting > 0) log(`tollgate: ${ledger.waiting} ledger rows could not be written; the sweeper settles the pending ones at the next start, and rows admitted fail-open are lost`);
    await store.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/** Alerts the webhook never took are posted again on the sweeper's interval (one pass at a time). */
function startAlertRedelivery(deps: Deps, intervalMs: number, log: (line: string) => void): ReturnType<typeof setInterval> {
  let running = false;
  const pass = async () => {
    if (running) return;
    running = true;
    try {
      const { delivered, failed } = await deps.alerts.redeliver();
      if (delivered + failed > 0) log(`tollgate: alert webhook redelivery: ${delivered} delivered, ${failed} still failing`);
    } catch (error) {
      log(`tollgate: alert webhook redelivery failed: ${(error as Error).message}`);
    } finally {
      running = false;
    }
  };
  void pass();
  const timer = setInterval(() => void pass(), intervalMs);
  timer.unref();
  return timer;
}

function readConfig(path: string | undefined, upstreamUrl: string | undefined): Config {
  if (!path) return loadConfig(undefined, { UPSTREAM_URL: upstreamUrl });
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read TOLLGATE_CONFIG file "${path}": ${(error as Error).message}`);
  }
  return loadConfig(text, { UPSTREAM_URL: upstreamUrl });
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? `tollgate: ${error.message}` : error);
  process.exit(1);
});
