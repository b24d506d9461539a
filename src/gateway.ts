import { BudgetAlerts } from './alerts';
import { generateSecret, sha256Hex } from './auth';
import { KeyCache } from './auth/key-cache';
import { ReplicaPool, type RouteTable } from './backends';
import { type Config, ConfigError, changedPrices, modelBackends, type ReloadReport } from './config';
import type { Caller, Deps, RequestIO } from './deps';
import { GatewayError, ledgerUnavailable } from './errors';
import { webRequestIO } from './http/io';
import type { Ledger } from './ledger';
// Not './metrics': its index brings prom-client, which the Workers bundle does without.
import type { MetricsEndpoint } from './metrics/endpoint';
import { type LedgerTap, tapLedger } from './metrics/ledger-tap';
import { RequestLog } from './metrics/request-log';
import { parsePricePer1k } from './pricing';
import { fetchUpstream, type UpstreamClient } from './proxy/upstream';
import { getAdminSecretHash, initAdminSecretHash } from './store/admin-secrets';
import { recordAudit } from './store/audit';
import { getBudget } from './store/budgets';
import type { Executor, Store } from './store/db';
import { describeError, isUnavailable, withDeadline } from './store/errors';
import { findKeyByHash, isKeyLive } from './store/keys';
import { addPriceVersion, currentPrice, seedPricesFromConfig } from './store/prices';
import { createLedger, FailOpenLedger, LeasedLedger, type LedgerOptions, type StoreLedger } from './usage';
import type { FailOpenJournal } from './usage/journal';

export interface GatewayParts {
  config: Config;
  store: Store;
  ledger: Ledger;
  /** TOLLGATE_ADMIN_TOKEN, when set. */
  adminToken?: string | undefined;
  /** Talks to backends (default: over the platform's fetch). */
  upstream?: UpstreamClient;
  /** How routes read the client request (default: the web Request). */
  io?: RequestIO;
  /** For webhooks (default: the platform's fetch). */
  fetch?: typeof fetch;
  now?: () => Date;
  clock?: () => number;
  waitUntil?: (work: Promise<unknown>) => void;
  log?: (line: string) => void;
  instanceId?: string | null;
  /** Requests admitted fail-open since start, when the ledger is wrapped for it. */
  failOpenAdmitted?: () => number;
  /** Budget alerts (default: made here on `store`). */
  alerts?: BudgetAlerts;
  /**
   * Deadline of auth's key lookup (default 5 s). Past it a key auth has seen live is served from
   * its cache (admission decides, on the same database); an unknown key gets 503.
   */
  lookupTimeoutMs?: number;
  /** The replicas (default: made here from `config`). */
  pool?: ReplicaPool;
  /** The Prometheus instruments (Node): they watch the ledger and serve /metrics. */
  metrics?: (MetricsEndpoint & LedgerTap) | null;
  /** Reads and validates the config file again; given, the gateway can reload (SIGHUP, POST /admin/reload). */
  readConfig?: () => Config;
  /** After a reload was applied (the Node entry restarts probes and checks the new replicas). */
  onReload?: (config: Config) => void;
}

/**
 * The ledger as the Node entry (and tests of it) run it: the store ledger, wrapped in the
 * fail-open decorator, with over-limit rows raising overspend alerts (and `onCommit` told of
 * each batch, for the flush metric).
 */
export function nodeLedger(
  store: Store,
  alerts: BudgetAlerts,
  options: LedgerOptions & { journal?: FailOpenJournal; leases?: { instanceId: string; leaseMs: number } | null },
): { ledger: FailOpenLedger; inner: StoreLedger; leases: LeasedLedger | null } {
  let failOpen: FailOpenLedger | undefined;
  const inner = createLedger(store, {
    ...options,
    onCommit: (commit) => {
      failOpen?.committed(commit);
      if (commit.outcome.overLimit.length > 0) alerts.overspent(commit.outcome.overLimit);
      options.onCommit?.(commit);
    },
  });
  // Leases sit under fail-open: a grant that cannot reach the database fails like an admission.
  const leases = options.leases
    ? new LeasedLedger(inner, {
        store,
        instanceId: options.leases.instanceId,
        leaseMs: options.leases.leaseMs,
        timeoutMs: options.admissionTimeoutMs,
        log: options.log,
      })
    : null;
  failOpen = new FailOpenLedger(leases ?? inner, { log: options.log, journal: options.journal });
  return { ledger: failOpen, inner, leases };
}

/**
 * Builds the app's deps from a migrated store: seeds config prices, settles the operator token
 * (a configured one, else the stored hash, else a new one printed once) and wires cached auth.
 */
export async function buildDeps(parts: GatewayParts): Promise<Deps> {
  const log = parts.log ?? ((line: string) => console.log(line));
  const now = parts.now ?? (() => new Date());
  await seedPricesFromConfig(parts.store, parts.config.models);
  const adminTokenHash = await resolveAdminToken(parts.store, parts.adminToken, log);

  const lookupTimeoutMs = parts.lookupTimeoutMs ?? 5_000;
  const keys = new KeyCache(
    async (hash) => {
      const key = await withDeadline(findKeyByHash(parts.store, hash), lookupTimeoutMs);
      if (!key || !isKeyLive(key, now())) return null;
      const caller: Caller = {
        kind: 'key',
        keyId: key.id,
        name: key.name,
        teamId: key.teamId,
        scopes: key.scopes,
        allowedModels: key.allowedModels,
        options: key.options,
        // Cached with the key: only the default completion cap depends on it, never the limit itself.
        hasBudget: (await withDeadline(getBudget(parts.store, key.id), lookupTimeoutMs)) !== null,
      };
      return caller;
    },
    { serveStaleOn: isUnavailable },
  );

  const fetchFn = parts.fetch ?? ((input, init) => fetch(input, init));
  const alerts =
    parts.alerts ??
    new BudgetAlerts({
      store: parts.store,
      webhookUrl: parts.config.gateway.alertWebhookUrl,
      fetch: fetchFn,
      log,
      now,
      waitUntil: parts.waitUntil,
    });
  const clock = parts.clock ?? (() => performance.now());
  const pool = parts.pool ?? new ReplicaPool(parts.config, { clock });
  const base: Omit<Deps, 'config' | 'backends' | 'ledger'> = {
    alerts,
    store: parts.store,
    findKey: async (hash, options) => {
      try {
        return await keys.find(hash, options);
      } catch (error) {
        // An outage is the ledger's 503 (fail closed), not an internal error.
        if (isUnavailable(error)) throw ledgerUnavailable();
        throw error;
      }
    },
    forgetKey: (keyId) => keys.invalidate(keyId),
    currentPrice: async (model, at) => {
      const price = await currentPrice(parts.store, model, at);
      if (!price) throw new GatewayError(500, `No price is set for model '${model}'.`, { code: 'price_missing' });
      return price;
    },
    adminTokenHash,
    upstream: parts.upstream ?? fetchUpstream(),
    io: parts.io ?? webRequestIO,
    fetch: fetchFn,
    now,
    clock,
    waitUntil: parts.waitUntil ?? (() => {}),
    log,
    instanceId: parts.instanceId ?? null,
    ledgerStats: () => ({ waiting: parts.ledger.waiting, failOpenAdmitted: parts.failOpenAdmitted?.() ?? 0 }),
    metrics: parts.metrics ?? null,
  };
  // One set of deps per config: a request keeps the set it arrived with.
  const generation = (config: Config, backends: RouteTable): Deps => {
    const taps: LedgerTap[] = [];
    if (parts.metrics) taps.push(parts.metrics);
    if (config.gateway.logging.requests) taps.push(new RequestLog(log));
    return { ...base, config, backends, ledger: tapLedger(parts.ledger, taps, clock) };
  };
  if (!parts.readConfig) return generation(parts.config, pool.table);

  const readConfig = parts.readConfig;
  let current: Deps;
  let reloading: Promise<unknown> = Promise.resolve();
  const apply = async (): Promise<ReloadReport> => {
    let next: Config;
    try {
      next = readConfig();
    } catch (error) {
      const message = error instanceof ConfigError ? error.message : describeError(error);
      log(`tollgate: config reload refused, the running config stays: ${message}`);
      return { ok: false, message };
    }
    let repriced: string[];
    try {
      repriced = await applyPrices(parts.store, current.config, next, now());
    } catch (error) {
      const message = `the new prices could not be written (${describeError(error)})`;
      log(`tollgate: config reload failed, the running config stays: ${message}`);
      return { ok: false, message };
    }
    current = generation(next, pool.reconfigure(next));
    parts.onReload?.(next);
    const models = Object.keys(next.models);
    const replicas = [...new Set(Object.values(next.models).flatMap((model) => modelBackends(model)))];
    log(
      `tollgate: config reloaded: models ${models.join(', ')}; replicas ${replicas.join(', ')}; new price versions: ${repriced.join(', ') || 'none'}`,
    );
    return { ok: true, models, replicas, repriced };
  };
  base.current = () => current;
  // One reload at a time: a second SIGHUP waits for the first. Each one, applied or refused, is in the audit log.
  base.reload = (actor, requestId) => {
    const run = reloading.then(apply, apply).then(async (report) => {
      const detail = report.ok
        ? { models: report.models, replicas: report.replicas, repriced: report.repriced }
        : { refused: report.message };
      await recordAudit(parts.store, { actor, action: 'config.reload', target: null, detail, requestId }).catch((error: unknown) =>
        log(`tollgate: the config reload could not be written to the audit log (${describeError(error)})`),
      );
      return report;
    });
    reloading = run;
    return run;
  };
  current = generation(parts.config, pool.table);
  return current;
}

/**
 * The reload's price step, in one transaction: each model whose price the file changed gets a
 * version effective now, unless the database already has that price in force (another instance
 * reloaded the same file); a model never priced gets its first version, as at start.
 */
async function applyPrices(store: Store, previous: Config, next: Config, at: Date): Promise<string[]> {
  const changed = changedPrices(previous, next);
  if (changed.length === 0) return [];
  return store.transaction(async (tx: Executor) => {
    const repriced: string[] = [];
    for (const model of changed) {
      const { prompt, completion } = next.models[model]!.pricePer1k;
      const price = await currentPrice(tx, model, at);
      if (!price) await seedPricesFromConfig(tx, { [model]: next.models[model]! });
      else if (price.promptPer1k !== parsePricePer1k(prompt) || price.completionPer1k !== parsePricePer1k(completion))
        await addPriceVersion(tx, model, parsePricePer1k(prompt), parsePricePer1k(completion), at);
      else continue;
      repriced.push(model);
    }
    return repriced;
  });
}

async function resolveAdminToken(store: Store, configured: string | undefined, log: (line: string) => void): Promise<string> {
  if (configured) return sha256Hex(configured);
  const stored = await getAdminSecretHash(store);
  if (stored) return stored;
  const token = generateSecret('tgadmin_');
  const hash = sha256Hex(token);
  if (await initAdminSecretHash(store, hash)) {
    log(`tollgate: generated the operator token (shown once, only its hash is stored): ${token}`);
    return hash;
  }
  // Another instance won the race; its token is the one.
  return (await getAdminSecretHash(store))!;
}
