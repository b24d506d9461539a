import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { alertsFor } from './alerts';
import { createApp } from './app';
import { ActiveProbes, checkServedContext, ReplicaPool } from './backends';
import { type Config, ConfigError, loadConfig, maintenanceSettings } from './config';
import { buildDeps, nodeLedger } from './gateway';
import { Instruments } from './metrics';
import { guardDriverFaults } from './runtime/driver-faults';
import { http1UpstreamClient } from './runtime/http1-client';
import { nodeRequestIO } from './runtime/node-request';
import { listen } from './runtime/node-server';
import { nodeSettings } from './runtime/node-settings';
import { Readiness } from './runtime/readiness';
import { describeError, ensureUsagePartitions, migrations, openStore, registerInstance, stopInstance } from './store';
import { withDeadline } from './store/errors';
import { configureTokenizer } from './tokenize';
import { maintenance, startInterval, startLiveness } from './usage';
import { FailOpenJournal } from './usage/journal';

/** Node entry: `npm start` / `tollgate serve`. Everything has a default; see the README for the variables. */
async function main(): Promise<void> {
  const env = process.env;
  const log = (line: string) => console.log(line);
  const config = readConfig(env.TOLLGATE_CONFIG, env.UPSTREAM_URL);
  const settings = nodeSettings(env);
  if (config.gateway.tokenizer) configureTokenizer(config.gateway.tokenizer);
  const store = await openStore({
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: env.TOLLGATE_DATA_DIR || undefined,
    timeouts: settings.database,
    maxConnections: settings.poolSize,
    log,
  });
  // A fault inside the driver replaces the pool; queued ledger rows stay queued and are retried.
  guardDriverFaults({ onFault: (error) => store.replaceClient?.(`driver fault: ${describeError(error)}`), log });
  await ensureUsagePartitions(store, new Date());

  // This process in gateway_instances: its pending rows are its own while it beats, and the
  // liveness loop (of any instance) settles them within seconds once it stops.
  const instance = { id: `inst_${crypto.randomUUID().replaceAll('-', '').slice(0, 20)}`, host: hostname(), pid: process.pid };
  await registerInstance(store, instance);
  const { olderThanMs, reportZones } = maintenanceSettings(config, env);
  const alerts = alertsFor(store, config, log);
  const journal = new FailOpenJournal({ dir: settings.journalDir, instanceId: instance.id, log });
  const instruments = new Instruments({ perKey: config.gateway.metrics.perKey });
  // Admissions on a Postgres server skip the WAL flush unless asked (README: "The ledger").
  const { ledger, leases } = nodeLedger(store, alerts, {
    log,
    durableAdmissions: env.TOLLGATE_DURABLE_ADMISSIONS === '1' || undefined,
    admissionTimeoutMs: settings.admissionTimeoutMs,
    writeTimeoutMs: settings.writeTimeoutMs,
    flushIntervalMs: settings.flushIntervalMs,
    durableWrites: env.TOLLGATE_ASYNC_LEDGER_WRITES !== '1',
    journal,
    onCommit: (commit) => instruments.committed(commit, Date.now()),
    leases: settings.leaseMs > 0 ? { instanceId: instance.id, leaseMs: settings.leaseMs } : null,
  });
  // Fail-open rows a stopped gateway journaled: written now (a killed one's once the liveness loop knows it is gone).
  const adoptJournals = (alive: (ids: string[]) => Promise<Set<string>>) =>
    journal
      .adopt(alive, new Date())
      .then((rows) => ledger.replay(rows))
      .catch((error: unknown) => log(`tollgate: could not adopt fail-open journals (${describeError(error)}); will retry`));
  await adoptJournals(async (ids) => new Set(ids));
  const fetchFn: typeof fetch = (input, init) => fetch(input, init);
  const pool = new ReplicaPool(config);
  const probes = new ActiveProbes(pool, fetchFn);
  // A replica serving a shorter max_model_len than the model's window is reported (at start and after a reload).
  const checkReplicas = (checked: Config) =>
    void checkServedContext(checked, fetchFn, log).catch((error: unknown) =>
      log(`tollgate: replica check failed (${describeError(error)})`),
    );
  const configPath = env.TOLLGATE_CONFIG;
  const deps = await buildDeps({
    config,
    store,
    ledger,
    alerts,
    adminToken: env.TOLLGATE_ADMIN_TOKEN || undefined,
    log,
    upstream: http1UpstreamClient({ connectTimeoutMs: settings.upstreamConnectTimeoutMs }),
    io: nodeRequestIO,
    instanceId: instance.id,
    failOpenAdmitted: () => ledger.failOpenAdmitted,
    lookupTimeoutMs: settings.lookupTimeoutMs,
    fetch: fetchFn,
    pool,
    metrics: instruments,
    // SIGHUP and POST /admin/reload read the file again; without one there is nothing to reload.
    readConfig: configPath ? () => readConfig(configPath, env.UPSTREAM_URL) : undefined,
    onReload: (next) => {
      instruments.perKey = next.gateway.metrics.perKey;
      probes.update();
      checkReplicas(next);
    },
  });
  instruments.watch({ pool, ledgerWaiting: () => ledger.waiting, failOpenAdmitted: () => ledger.failOpenAdmitted });
  probes.update();
  checkReplicas(config);
  const readiness = new Readiness({ store, migrations: migrations.map((migration) => migration.tag), timeoutMs: settings.readyTimeoutMs });
  const app = createApp(deps, { readiness });

  // Age-based sweeping, partitions, alert redelivery; owners' silence is the liveness loop's.
  const runMaintenance = () =>
    maintenance({ store, olderThanMs, reportZones, redeliverAlerts: () => alerts.redeliver(), log }).then(() => undefined);
  await runMaintenance().catch((error: unknown) => log(`tollgate: maintenance failed (${describeError(error)}); will retry`));
  const maintainer = startInterval(runMaintenance, Number(env.TOLLGATE_SWEEP_INTERVAL_MS ?? 60_000), (error) =>
    log(`tollgate: maintenance failed (${describeError(error)}); will retry`),
  );
  const liveness = startLiveness({
    store,
    instance,
    heartbeatMs: settings.heartbeatMs,
    ownerSilentMs: settings.ownerSilentMs,
    olderThanMs,
    log,
    afterBeat: adoptJournals,
    onResumed: leases ? () => leases.forget() : undefined,
  });

  const port = Number(env.PORT ?? 8787);
  const host = env.HOST ?? '127.0.0.1';
  const server = await listen(app.fetch, { port, hostname: host });
  log(
    `tollgate: listening on http://${host}:${server.port} (pid ${process.pid}, database: ${store.kind}, models: ${Object.keys(config.models).join(', ')})`,
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    readiness.drain();
    log(`tollgate: ${signal}: draining requests and the ledger`);
    // Unready first, still serving, so a load balancer stops sending before the listener goes.
    if (settings.drainDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, settings.drainDelayMs));
    await server.close();
    probes.stop();
    await liveness.stop();
    await maintainer.stop();
    await ledger.flush(10_000);
    // After the last final rows: nothing will spend this instance's leases any more.
    if (leases && ledger.waiting === 0) await leases.close();
    if (ledger.waiting > 0)
      log(`tollgate: ${ledger.waiting} ledger rows could not be written; the sweeper settles the pending ones at the next start`);
    await journal.close().catch((error: unknown) => log(`tollgate: could not close the fail-open journal: ${String(error)}`));
    await withDeadline(stopInstance(store, instance.id), 2_000).catch(() => {});
    await store.close().catch(() => {});
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    if (deps.reload) void deps.reload('signal:SIGHUP');
    else log('tollgate: SIGHUP: no TOLLGATE_CONFIG file to reload');
  });
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
