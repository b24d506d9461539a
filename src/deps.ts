import type { Context } from 'hono';
import type { BudgetAlerts } from './alerts';
import type { RouteTable } from './backends';
import type { CancelSignal } from './cancel';
import type { Config, ReloadReport } from './config';
import type { Ledger } from './ledger';
import type { MetricsEndpoint } from './metrics/endpoint';
import type { Price } from './pricing';
import type { Reply } from './proxy/relay';
import type { UpstreamClient } from './proxy/upstream';
import type { Store } from './store/db';
import type { KeyOptions } from './store/schema';

/** The caller behind a request, after auth: an API key, or the operator token. */
export type Caller =
  | {
      kind: 'key';
      keyId: string;
      name: string;
      /** The key's team when auth cached it (admission records the team as it is now). */
      teamId: string | null;
      scopes: readonly string[];
      allowedModels: readonly string[] | null;
      options: KeyOptions;
      /** The key had a budget when its auth was cached (decides the default completion cap). */
      hasBudget: boolean;
    }
  | { kind: 'operator'; name: 'operator'; scopes: readonly string[] };

/**
 * How a route reads its client request and writes a proxied answer. The standard one uses the web
 * Request and Response; the Node entry installs one that reads and writes node:http directly
 * (runtime/node-request.ts), which costs less.
 */
export interface RequestIO {
  /** A request header (names in lower case), undefined when absent. */
  header(c: Context<HonoEnv>, name: string): string | undefined;
  /** The body as text, refused with 413 as soon as it grows past `maxBytes`. */
  bodyText(c: Context<HonoEnv>, maxBytes: number): Promise<string>;
  /** Aborted when the client goes away before the response is finished. */
  clientSignal(c: Context<HonoEnv>): CancelSignal;
  /**
   * Sends a proxied answer. The Response returned is what the app's middleware sees; on Node it
   * only carries the status, the answer itself having gone straight to the connection.
   */
  respond(c: Context<HonoEnv>, reply: Reply): Response;
}

/** What the app needs from the world; the Node and Workers entries build it differently. */
export interface Deps {
  config: Config;
  ledger: Ledger;
  alerts: BudgetAlerts;
  store: Store;
  /**
   * Finds a live key by the SHA-256 hex of its secret (null for unknown, revoked, expired), from a
   * few seconds' cache unless `fresh`.
   */
  findKey: (hash: string, options?: { fresh?: boolean }) => Promise<Caller | null>;
  /** Drops cached auth for a key after it changed. */
  forgetKey: (keyId: string) => void;
  /** The price version of a model in force at an instant. */
  currentPrice: (model: string, at: Date) => Promise<Price>;
  /** SHA-256 hex of the operator token. */
  adminTokenHash: string;
  /** Talks to backends. */
  upstream: UpstreamClient;
  io: RequestIO;
  /** For webhooks (the platform's fetch). */
  fetch: typeof fetch;
  now: () => Date;
  /** Monotonic milliseconds, for latencies. */
  clock: () => number;
  /** Keeps the runtime alive for background work after the response (Workers' waitUntil). */
  waitUntil: (work: Promise<unknown>) => void;
  log: (line: string) => void;
  /** This instance's id in gateway_instances (owner of its pending rows); null where there is no heartbeat. */
  instanceId: string | null;
  /** Ledger rows waiting in memory, and requests admitted fail-open since start. */
  ledgerStats: () => { waiting: number; failOpenAdmitted: number };
  /** Each model's replicas, health and queue, as `config` names them. */
  backends: RouteTable;
  /** The Prometheus page (Node); null where there is none (Workers). */
  metrics: MetricsEndpoint | null;
  /**
   * The deps of the config in force now: a request takes them once, when it arrives, and keeps
   * them to its end (a reload swaps them for new requests). Absent: these, always.
   */
  current?: () => Deps;
  /** Re-reads and applies the config file (Node: SIGHUP and POST /admin/reload); absent where there is no file. */
  reload?: (actor: string, requestId?: string) => Promise<ReloadReport>;
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
