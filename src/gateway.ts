import { BudgetAlerts } from './alerts';
import { generateSecret, sha256Hex } from './auth';
import { KeyCache } from './auth/key-cache';
import type { Config } from './config';
import type { Caller, Deps } from './deps';
import { GatewayError, ledgerUnavailable } from './errors';
import { initAdminSecretHash, getAdminSecretHash } from './store/admin-secrets';
import type { Store } from './store/db';
import { getBudget } from './store/budgets';
import { findKeyByHash, isKeyLive } from './store/keys';
import { currentPrice, seedPricesFromConfig } from './store/prices';
import { configureTokenizer } from './tokenize';
import { isUnavailable } from './usage/errors';
import type { Ledger } from './usage/types';

export interface GatewayParts {
  config: Config;
  store: Store;
  ledger: Ledger;
  /** TOLLGATE_ADMIN_TOKEN, when set. */
  adminToken?: string | undefined;
  fetch?: typeof fetch;
  now?: () => Date;
  waitUntil?: (work: Promise<unknown>) => void;
  log?: (line: string) => void;
}

/**
 * Builds the app's deps from a migrated store: seeds config prices, settles the operator token
 * (a configured one, else the stored hash, else a new one printed once) and wires cached auth.
 */
export async function buildDeps(parts: GatewayParts): Promise<Deps> {
  const log = parts.log ?? ((line: string) => console.log(line));
  const now = parts.now ?? (() => new Date());
  if (parts.config.gateway.tokenizer) configureTokenizer(parts.config.gateway.tokenizer);
  await seedPricesFromConfig(parts.store, parts.config.models);
  const adminTokenHash = await resolveAdminToken(parts.store, parts.adminToken, log);

  const keys = new KeyCache(async (hash) => {
    const key = await findKeyByHash(parts.store, hash);
    if (!key || !isKeyLive(key, now())) return null;
    const caller: Caller = {
      kind: 'key',
      keyId: key.id,
      name: key.name,
      scopes: key.scopes,
      allowedModels: key.allowedModels,
      options: key.options,
      // Cached with the key: only the default completion cap depends on it, never the limit itself.
      hasBudget: (await getBudget(parts.store, key.id)) !== null,
    };
    return caller;
  }, { serveStaleOn: isUnavailable });

  const fetchFn = parts.fetch ?? ((input, init) => fetch(input, init));
  return {
    config: parts.config,
    alerts: new BudgetAlerts({ store: parts.store, webhookUrl: parts.config.gateway.alertWebhookUrl, fetch: fetchFn, log, now, waitUntil: parts.waitUntil }),
    store: parts.store,
    ledger: parts.ledger,
    findKey: async (hash) => {
      try {
        return await keys.find(hash);
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
    fetch: fetchFn,
    now,
    waitUntil: parts.waitUntil ?? (() => {}),
    log,
  };
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
