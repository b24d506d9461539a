import type { BudgetAlerts } from './alerts';
import type { Config } from './config';
import type { Price } from './pricing';
import type { Store } from './store/db';
import type { Ledger } from './usage/types';

export type { KeyOptions } from './store/schema';
import type { KeyOptions } from './store/schema';

/** The caller behind a request, after auth. */
export interface Caller {
  kind: 'key' | 'operator';
  keyId: string | null;
  name: string;
  scopes: readonly string[];
  allowedModels: readonly string[] | null;
  options: KeyOptions;
  /** The key had a budget when its auth was cached (decides the default completion cap). */
  hasBudget: boolean;
}

/** What the app needs from the world; Node and Workers entries build it differently. */
export interface Deps {
  config: Config;
  ledger: Ledger;
  alerts: BudgetAlerts;
  store: Store;
  /** Finds a live key by the SHA-256 hex of its secret (null for unknown, revoked, expired). */
  findKey: (hash: string) => Promise<Caller | null>;
  /** Drops cached auth for a key after it changed. */
  forgetKey: (keyId: string) => void;
  /** The price version of a model in force at an instant. */
  currentPrice: (model: string, at: Date) => Promise<Price>;
  /** SHA-256 hex of the operator token. */
  adminTokenHash: string;
  fetch: typeof fetch;
  now: () => Date;
  /** Keeps the runtime alive for background work after the response (Workers' waitUntil). */
  waitUntil: (work: Promise<unknown>) => void;
  log: (line: string) => void;
}

export interface HonoEnv {
  Variables: {
    requestId: string;
    caller: Caller;
    deps: Deps;
    /** Largest request body this route reads, in bytes (set by `limitBody`). */
    bodyLimit: number;
  };
}
