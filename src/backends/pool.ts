import { type BackendConfig, type Config, modelBackends } from '../config';
import { Replica } from './replica';
import { type BackendObserver, ModelRoute, type RouteContext, type RouteOptions } from './route';

/** The backend options of a config, as the pool reads them. */
export function routeOptions(config: Config): RouteOptions & { probe: ProbeOptions } {
  const { health, retry, queue } = config.gateway;
  return {
    health: { failureThreshold: health.failureThreshold, backoffMs: health.backoffMs, maxBackoffMs: health.maxBackoffMs },
    retry,
    queue,
    probe: { intervalMs: health.probeIntervalMs, path: health.probePath, timeoutMs: health.probeTimeoutMs },
  };
}

export interface ProbeOptions {
  /** 0: no active probes. */
  intervalMs: number;
  path: string;
  timeoutMs: number;
}

/**
 * Every replica the gateway knows and each model's route over them. Replicas outlive a reload
 * when their address is unchanged (their in-flight count and health stay); each config gets its
 * own RouteTable, so a request finds its model as it was when the request arrived.
 *
 * @example
 * const pool = new ReplicaPool(config);
 * const routes = pool.table;                 // deps.backends
 * const next = pool.reconfigure(newConfig);  // after a reload
 */
export class ReplicaPool implements RouteContext {
  options: RouteOptions & { probe: ProbeOptions };
  observer: BackendObserver | null = null;
  readonly clock: () => number;
  #replicas = new Map<string, Replica>();
  readonly #routes = new Map<string, ModelRoute>();
  #table: RouteTable;

  constructor(config: Config, options: { clock?: () => number } = {}) {
    this.clock = options.clock ?? (() => performance.now());
    this.options = routeOptions(config);
    this.#table = this.reconfigure(config);
  }

  /** The routes of the config in force. */
  get table(): RouteTable {
    return this.#table;
  }

  /** Replicas of the config in force, by backend name. */
  get replicas(): ReadonlyMap<string, Replica> {
    return this.#replicas;
  }

  /** Applies a (validated) config: replicas kept, replaced or added, routes updated; returns its route table. */
  reconfigure(config: Config): RouteTable {
    this.options = routeOptions(config);
    const replicas = new Map<string, Replica>();
    const used = new Set(Object.values(config.models).flatMap((model) => modelBackends(model)));
    for (const name of used) {
      const backend = config.backends[name]!;
      const kept = this.#replicas.get(name);
      replicas.set(name, kept && sameAddress(kept, backend) ? updated(kept, backend) : new Replica(name, backend));
    }
    const routes = new Map<string, ModelRoute>();
    for (const [model, modelConfig] of Object.entries(config.models)) {
      const members = modelBackends(modelConfig).map((name) => replicas.get(name)!);
      const route = this.#routes.get(model);
      if (route) route.setReplicas(members);
      routes.set(model, route ?? new ModelRoute(model, members, this));
    }
    // Routes of removed models stay with the tables (and requests) that hold them.
    this.#routes.clear();
    for (const [model, route] of routes) this.#routes.set(model, route);
    for (const replica of replicas.values()) replica.routes = [...routes.values()].filter((route) => route.replicas.includes(replica));
    this.#replicas = replicas;
    this.#table = new RouteTable(routes, this);
    return this.#table;
  }
}

/**
 * One config's routes: what `deps.backends` holds. A request looks its model up here once.
 */
export class RouteTable {
  constructor(
    readonly routes: ReadonlyMap<string, ModelRoute>,
    readonly pool: ReplicaPool,
  ) {}

  route(model: string): ModelRoute | undefined {
    return this.routes.get(model);
  }

  /** Models none of whose replicas is healthy or due for a trial (what /readyz reports). */
  unservable(): string[] {
    const now = this.pool.clock();
    const models: string[] = [];
    for (const [model, route] of this.routes) {
      if (!route.replicas.some((replica) => replica.healthy || replica.trialDue(now))) models.push(model);
    }
    return models;
  }
}

const sameAddress = (replica: Replica, backend: BackendConfig) =>
  replica.url === backend.url.replace(/\/+$/, '') && replica.apiKey === backend.apiKey && replica.timeoutMs === backend.timeoutMs;

function updated(replica: Replica, backend: BackendConfig): Replica {
  replica.weight = backend.weight ?? 1;
  replica.maxInFlight = backend.maxInFlight ?? Number.POSITIVE_INFINITY;
  return replica;
}
