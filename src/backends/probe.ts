import { type Config, modelBackends } from '../config';
import type { ReplicaPool, RouteTable } from './pool';
import type { Replica } from './replica';

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * GET the probe path on the replica's host (not below its `/v1`: vLLM, SGLang and TGI serve
 * `/health` at the root). True for a 2xx within the timeout.
 *
 * @example await probeReplica(fetch, replica, { path: '/health', timeoutMs: 2_000 })
 */
export async function probeReplica(fetchFn: Fetch, replica: Replica, probe: { path: string; timeoutMs: number }): Promise<boolean> {
  const headers: Record<string, string> = replica.apiKey ? { authorization: `Bearer ${replica.apiKey}` } : {};
  try {
    const response = await fetchFn(new URL(probe.path, replica.url).toString(), {
      headers,
      signal: AbortSignal.timeout(probe.timeoutMs),
    });
    await response.body?.cancel().catch(() => {});
    return response.status >= 200 && response.status < 300;
  } catch {
    return false;
  }
}

/**
 * Active health: every `intervalMs`, each replica's probe path is fetched. A failure ejects the
 * replica until a probe succeeds again; a success does not let back a replica its requests
 * ejected (see Replica.probed). Node only: an isolate on Workers lives per request.
 *
 * @example
 * const probes = new ActiveProbes(pool, fetch); probes.update(); … probes.stop();
 */
export class ActiveProbes {
  #timer: ReturnType<typeof setInterval> | null = null;
  #intervalMs = 0;
  #running = false;

  constructor(
    private readonly pool: ReplicaPool,
    private readonly fetchFn: Fetch,
  ) {}

  /** Starts, restarts or stops the probes after the pool's options changed (start, reload). */
  update(): void {
    const { intervalMs } = this.pool.options.probe;
    if (intervalMs === this.#intervalMs) return;
    this.stop();
    this.#intervalMs = intervalMs;
    if (intervalMs === 0) return;
    this.#timer = setInterval(() => void this.probeAll(), intervalMs);
    this.#timer.unref?.();
  }

  /** One round over every replica; rounds do not overlap. */
  async probeAll(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      const { probe, health } = this.pool.options;
      await Promise.all(
        [...this.pool.replicas.values()].map(async (replica) =>
          replica.probed(await probeReplica(this.fetchFn, replica, probe), this.pool.clock(), health),
        ),
      );
    } finally {
      this.#running = false;
    }
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#intervalMs = 0;
    for (const replica of this.pool.replicas.values()) replica.probesStopped(this.pool.clock());
  }
}

/**
 * What `/readyz` says of the backends: the models none of whose replicas can serve. A model whose
 * replicas are all ejected but due for a trial is probed first (once per back-off), so a gateway
 * with only passive health neither stays unready forever (no traffic, no trial) nor flips ready
 * on a dead replica's schedule.
 */
export async function unservableModels(table: RouteTable, fetchFn: Fetch): Promise<string[]> {
  const pool = table.pool;
  const now = pool.clock();
  const due = new Set<Replica>();
  for (const route of table.routes.values()) {
    if (route.replicas.some((replica) => replica.healthy)) continue;
    for (const replica of route.replicas) if (replica.trialDue(now)) due.add(replica);
  }
  await Promise.all(
    [...due].map(async (replica) =>
      replica.probed(await probeReplica(fetchFn, replica, pool.options.probe), pool.clock(), pool.options.health),
    ),
  );
  return table.unservable();
}

/**
 * Asks each replica for the models it serves (`GET /v1/models`) and logs every one whose
 * `max_model_len` is below the context window of a model it serves: requests that fit the
 * window would fail there with the backend's context error.
 */
export async function checkServedContext(config: Config, fetchFn: Fetch, log: (line: string) => void, timeoutMs = 5_000): Promise<void> {
  // One request per replica, however many models it serves.
  const served = new Map<string, { model: string; window: number; upstream: string }[]>();
  for (const [name, model] of Object.entries(config.models)) {
    for (const backend of modelBackends(model)) {
      const models = served.get(backend) ?? [];
      models.push({ model: name, window: model.contextWindow, upstream: model.upstreamModel ?? name });
      served.set(backend, models);
    }
  }
  await Promise.all(
    [...served].map(async ([backendName, models]) => {
      const backend = config.backends[backendName]!;
      let listed: Awaited<ReturnType<typeof servedModels>>;
      try {
        listed = await servedModels(fetchFn, backend.url, backend.apiKey, timeoutMs);
      } catch (error) {
        log(`tollgate: could not read the models of replica "${backendName}" (${error instanceof Error ? error.message : String(error)})`);
        return;
      }
      for (const { model, window, upstream } of models) {
        const entry = listed.find((m) => m.id === upstream) ?? (listed.length === 1 ? listed[0] : undefined);
        if (entry?.maxModelLen !== undefined && entry.maxModelLen < window) {
          log(
            `tollgate: replica "${backendName}" serves "${entry.id}" with max_model_len ${entry.maxModelLen}, below the contextWindow ${window} of model "${model}": requests that fit the window can fail there`,
          );
        }
      }
    }),
  );
}

async function servedModels(fetchFn: Fetch, url: string, apiKey: string | undefined, timeoutMs: number) {
  const response = await fetchFn(`${url.replace(/\/+$/, '')}/models`, {
    headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!response.ok) throw new Error(`GET /models answered ${response.status}`);
  const body = (await response.json()) as { data?: { id?: unknown; max_model_len?: unknown }[] };
  return (body.data ?? []).map((entry) => ({
    id: String(entry.id),
    maxModelLen: typeof entry.max_model_len === 'number' ? entry.max_model_len : undefined,
  }));
}
