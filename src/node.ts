import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { serve } from '@hono/node-server';
import { BudgetAlerts } from './alerts';
import { createApp } from './app';
import { type Config, ConfigError, loadConfig } from './config';
import { buildDeps, nodeLedger } from './gateway';
import { nodeRequestIO } from './runtime/node-request';
import { nodeUpstreamClient } from './runtime/node-upstream';
import { describeError, ensureUsagePartitions, heartbeat, openStore, registerInstance, stopInstance } from './store';
import { configureTokenizer } from './tokenize';
import { maintenance, startInterval, sweep } from './usage';

/** Node entry: `npm start` / `tollgate serve`. Everything has a default; see the README for the variables. */
async function main(): Promise<void> {
  const env = process.env;
  const log = (line: string) => console.log(line);
  const config = readConfig(env.TOLLGATE_CONFIG, env.UPSTREAM_URL);
  if (config.gateway.tokenizer) configureTokenizer(config.gateway.tokenizer);
  const store = await openStore({ databaseUrl: env.DATABASE_URL || undefined, dataDir: env.TOLLGATE_DATA_DIR || undefined });
  await ensureUsagePartitions(store, new Date());

  // This process in gateway_instances: its pending rows are its own while it beats, and the
  // sweeper (of any instance) settles them within seconds once it stops.
  const instanceId = `inst_${crypto.randomUUID().replaceAll('-', '').slice(0, 20)}`;
  await registerInstance(store, { id: instanceId, host: hostname(), pid: process.pid });
  const heartbeatMs = Number(env.TOLLGATE_HEARTBEAT_MS ?? 2_000);
  const ownerSilentMs = 3 * heartbeatMs;
  // A pending row older than the longest backend deadline (plus a grace) can no longer settle by itself, whoever owns it.
  const longestTimeout = Math.max(...Object.values(config.backends).map((backend) => backend.timeoutMs));
  const olderThanMs = longestTimeout + Number(env.TOLLGATE_SWEEP_GRACE_MS ?? 30_000);

  const alerts = new BudgetAlerts({
    store,
    webhookUrl: config.gateway.alertWebhookUrl,
    fetch: (input, init) => fetch(input, init),
    log,
    now: () => new Date(),
  });
  // Admissions on a Postgres server skip the WAL flush unless asked (README: "The ledger").
  const { ledger } = nodeLedger(store, alerts, { log, durableAdmissions: env.TOLLGATE_DURABLE_ADMISSIONS === '1' || undefined });
  const deps = await buildDeps({
    config,
    store,
    ledger,
    alerts,
    adminToken: env.TOLLGATE_ADMIN_TOKEN || undefined,
    log,
    upstream: nodeUpstreamClient(),
    io: nodeRequestIO,
    instanceId,
    failOpenAdmitted: () => ledger.failOpenAdmitted,
  });
  const app = createApp(deps);

  const runMaintenance = () =>
    maintenance({ store, olderThanMs, ownerSilentMs, redeliverAlerts: () => alerts.redeliver(), log }).then(() => undefined);
  await runMaintenance().catch((error: unknown) => log(`tollgate: maintenance failed (${describeError(error)}); will retry`));
  const maintainer = startInterval(runMaintenance, Number(env.TOLLGATE_SWEEP_INTERVAL_MS ?? 60_000), (error) =>
    log(`tollgate: maintenance failed (${describeError(error)}); will retry`),
  );
  // Beat, and settle the rows of instances that stopped beating, every heartbeat.
  const beater = startInterval(
    async () => {
      await heartbeat(store, instanceId);
      const swept = await sweep(store, { olderThanMs, ownerSilentMs });
      if (swept > 0) log(`tollgate: swept ${swept} request(s) of stopped instances as incomplete`);
    },
    heartbeatMs,
    (error) => log(`tollgate: heartbeat failed (${describeError(error)})`),
  );

  const port = Number(env.PORT ?? 8787);
  const host = env.HOST ?? '127.0.0.1';
  const server = serve({ fetch: app.fetch, port, hostname: host }, (info) => {
    log(
      `tollgate: listening on http://${host}:${info.port} (pid ${process.pid}, database: ${store.kind}, models: ${Object.keys(config.models).join(', ')})`,
    );
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`tollgate: ${signal}: draining requests and the ledger`);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await beater.stop();
    await maintainer.stop();
    await ledger.flush(10_000);
    if (ledger.waiting > 0)
      log(`tollgate: ${ledger.waiting} ledger rows could not be written; the sweeper settles the pending ones at the next start`);
    await stopInstance(store, instanceId).catch(() => {});
    await store.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
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
