import type { ExecutionContext, Hono } from 'hono';
import { alertsFor } from './alerts';
import { createApp } from './app';
import { type Config, ConfigError, loadConfig, maintenanceSettings } from './config';
import type { HonoEnv } from './deps';
import { internalErrorBody } from './errors';
import { buildDeps } from './gateway';
import { Invocation, InvocationScope } from './runtime/invocation';
// Not './store': its openStore can load PGlite, which must never reach the Worker bundle.
import { openPostgresStore } from './store/postgres';
import { configureTokenizer } from './tokenize';
import { createLedger } from './usage/ledger';
import { maintenance } from './usage/maintenance';

/** The bindings wrangler.toml declares (vars, secrets, Hyperdrive). */
export interface WorkerEnv {
  /** The config: JSON text (what the Node entry reads from a file), or a table in wrangler.toml. */
  TOLLGATE_CONFIG?: string | Record<string, unknown>;
  /** Overrides the default backend's url when TOLLGATE_CONFIG is unset. */
  UPSTREAM_URL?: string;
  /** Secret: the operator token for /admin. */
  TOLLGATE_ADMIN_TOKEN?: string;
  /** Hyperdrive binding in front of Postgres (preferred: pooled near the Worker). */
  HYPERDRIVE?: { connectionString: string };
  /** Secret: a direct `postgres://` URL, used when there is no Hyperdrive binding. */
  DATABASE_URL?: string;
  /** Comma-separated IANA zones whose ended days the cron compacts for reports (default UTC). */
  TOLLGATE_REPORT_ZONES?: string;
  /** Extra age beyond the longest backend timeout before the cron sweeper settles a pending row. */
  TOLLGATE_SWEEP_GRACE_MS?: string;
}

const log = (line: string) => console.log(line);

// Isolate-level: config, prices, operator token and key cache are settled once per isolate;
// only the database connection and the ledger queue belong to each invocation.
const scope = new InvocationScope();
let gateway: { config: Config; app: Hono<HonoEnv> } | null = null;

async function gatewayFor(env: WorkerEnv): Promise<{ config: Config; app: Hono<HonoEnv> }> {
  if (gateway) return gateway;
  const config = loadConfig(configText(env), { UPSTREAM_URL: env.UPSTREAM_URL });
  if (config.gateway.tokenizer) configureTokenizer(config.gateway.tokenizer);
  const deps = await buildDeps({
    config,
    store: scope.store,
    ledger: scope.ledger,
    adminToken: env.TOLLGATE_ADMIN_TOKEN || undefined,
    waitUntil: (work) => scope.waitUntil(work),
    log,
  });
  // Two cold requests may both get here; either result is right, keep the first.
  return (gateway ??= { config, app: createApp(deps) });
}

/** wrangler passes a var that is a TOML table (or JSON object in wrangler.jsonc) as an object. */
function configText(env: WorkerEnv): string | undefined {
  const config = env.TOLLGATE_CONFIG;
  return typeof config === 'object' && config !== null ? JSON.stringify(config) : config;
}

function databaseUrlOf(env: WorkerEnv): string {
  const url = env.HYPERDRIVE?.connectionString || env.DATABASE_URL;
  if (!url) throw new ConfigError('no database: bind Hyperdrive as HYPERDRIVE or set the DATABASE_URL secret');
  return url;
}

/** A store, and a ledger on it, for one invocation; `finish` it in waitUntil. */
function openInvocation(env: WorkerEnv, ctx: ExecutionContext): Invocation {
  // One connection is all a single request uses; Hyperdrive does the pooling.
  const store = openPostgresStore({ databaseUrl: databaseUrlOf(env), maxConnections: 1 });
  return new Invocation(store, createLedger(store, { log }), (work) => ctx.waitUntil(work));
}

function failure(error: unknown): Response {
  log(
    error instanceof ConfigError
      ? `tollgate: ${error.message}`
      : `tollgate: cannot start: ${error instanceof Error ? error.stack : String(error)}`,
  );
  return Response.json(internalErrorBody(), { status: 500 });
}

/** Cloudflare Workers entry: the same Hono app as on Node, one invocation per request. */
export default {
  async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
    let invocation: Invocation;
    try {
      invocation = openInvocation(env, ctx);
    } catch (error) {
      return failure(error);
    }
    try {
      return await scope.run(invocation, async () => {
        const { app } = await gatewayFor(env);
        return app.fetch(request, env, ctx);
      });
    } catch (error) {
      return failure(error);
    } finally {
      // Streams settle after this returns; finish waits for that, then writes and closes.
      ctx.waitUntil(invocation.finish());
    }
  },

  /**
   * Cron trigger: the same maintenance as the Node interval (partitions, abandoned pending rows,
   * old rate windows, alert redelivery). Workers invocations do not heartbeat, so their pending
   * rows are swept once the longest backend deadline has passed.
   */
  async scheduled(_controller: unknown, env: WorkerEnv): Promise<void> {
    const config = gateway?.config ?? loadConfig(configText(env), { UPSTREAM_URL: env.UPSTREAM_URL });
    const store = openPostgresStore({ databaseUrl: databaseUrlOf(env), maxConnections: 1 });
    try {
      const alerts = alertsFor(store, config, log);
      await maintenance({ store, ...maintenanceSettings(config, env), redeliverAlerts: () => alerts.redeliver(), log });
    } finally {
      await store.close();
    }
  },
};
