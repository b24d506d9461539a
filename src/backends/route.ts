import type { CancelSignal } from '../cancel';
import { GatewayError } from '../errors';
import { pickReplica } from './balance';
import { FairQueue } from './queue';
import type { HealthPolicy, Replica } from './replica';

/** The options a route reads on each request (the config's `gateway.health`, `retry` and `queue`; a reload swaps them). */
export interface RouteOptions {
  health: HealthPolicy;
  retry: { attempts: number; maxRetryAfterMs: number };
  queue: { size: number; maxWaitMs: number };
}

/** What the pool gives its routes: the options in force, a monotonic clock, and who watches. */
export interface RouteContext {
  readonly options: RouteOptions;
  readonly clock: () => number;
  readonly observer: BackendObserver | null;
}

/** Told about attempts, retries and saturation (the Prometheus instruments implement it). */
export interface BackendObserver {
  /** An attempt got the backend's response head, `ms` after it was sent. */
  answered(replica: Replica, ms: number): void;
  /** An attempt failed before any byte and the request goes on to another replica. */
  retried(model: string, reason: RetryReason): void;
  /** A request was answered by a replica after another one failed it. */
  failedOver(model: string): void;
  /** A request found every replica at its limit and could not wait (queue full, or waited too long). */
  saturated(model: string, reason: 'queue_full' | 'queue_timeout'): void;
}

export type RetryReason = 'connect' | 'status_503' | 'status_429';

interface Waiter {
  readonly key: string;
  readonly tried: readonly Replica[] | null;
  replica: Replica | null;
  resolve: (replica: Replica) => void;
  reject: (error: unknown) => void;
  timer: ReturnType<typeof setTimeout> | null;
  signal: CancelSignal | null;
  onAbort: (() => void) | null;
}

/**
 * A model's replicas and its saturation queue. `acquire` gives a request's attempt a replica
 * (pickReplica) and counts it in flight; when every replica it may use is at its in-flight
 * limit, the request waits in a bounded queue, fair between keys, until a slot frees, its wait
 * ends or its deadline comes: then 503 with Retry-After. A reload updates `replicas` in place,
 * so requests still waiting pick from the replicas as they are now.
 *
 * @example
 * const replica = route.acquire(keyId, null, deadline, signal);
 * const taken = replica instanceof Promise ? await replica : replica; // null: no replica can take it
 */
export class ModelRoute {
  replicas: readonly Replica[];
  /** One request's deadline, waiting and retries included: the longest timeout among its replicas. */
  deadlineMs: number;
  readonly #queue = new FairQueue<Waiter>();

  constructor(
    readonly model: string,
    replicas: readonly Replica[],
    private readonly context: RouteContext,
  ) {
    this.replicas = replicas;
    this.deadlineMs = longestTimeout(replicas);
  }

  setReplicas(replicas: readonly Replica[]): void {
    this.replicas = replicas;
    this.deadlineMs = longestTimeout(replicas);
    this.pump();
  }

  get options(): RouteOptions {
    return this.context.options;
  }

  get observer(): BackendObserver | null {
    return this.context.observer;
  }

  get clock(): () => number {
    return this.context.clock;
  }

  /** Requests waiting for a replica. */
  get waiting(): number {
    return this.#queue.size;
  }

  /**
   * A replica for an attempt (counted in flight: give it back with `replica.release`), a promise
   * of one when the request has to wait, or null when no replica can take it (all tried, or none
   * healthy for a retry). Throws the 503 when it cannot wait.
   */
  acquire(key: string, tried: readonly Replica[] | null, deadline: number, signal: CancelSignal | null): Replica | Promise<Replica> | null {
    const now = this.context.clock();
    // First attempts queue behind those already waiting; a retry was waiting its turn already.
    if (this.#queue.size === 0 || tried !== null) {
      const replica = pickReplica(this.replicas, now, tried);
      if (replica) {
        replica.take();
        return replica;
      }
      if (!this.#waitingHelps(tried, now)) return null;
    }
    return this.#wait(key, tried, deadline, signal, now);
  }

  /** Gives freed capacity to waiting requests, keys in turn. */
  pump(): void {
    if (this.#queue.size === 0) return;
    const now = this.context.clock();
    for (;;) {
      const served = this.#queue.serve((waiter) => {
        const replica = pickReplica(this.replicas, now, waiter.tried);
        if (!replica) return false;
        replica.take();
        waiter.replica = replica;
        return true;
      });
      if (!served) return;
      settle(served);
      served.resolve(served.replica!);
    }
  }

  /** Some replica the request may use is busy, not broken: a slot may free up. */
  #waitingHelps(tried: readonly Replica[] | null, now: number): boolean {
    const panic = tried === null && !this.replicas.some((replica) => replica.healthy);
    return this.replicas.some(
      (replica) => !tried?.includes(replica) && !replica.hasCapacity && (panic || replica.healthy || replica.trialDue(now)),
    );
  }

  #wait(key: string, tried: readonly Replica[] | null, deadline: number, signal: CancelSignal | null, now: number): Promise<Replica> {
    const { size, maxWaitMs } = this.context.options.queue;
    if (this.#queue.size >= size) throw this.#saturated('queue_full');
    const waitMs = Math.min(maxWaitMs, deadline - now);
    if (waitMs <= 0) throw this.#saturated('queue_timeout');
    return new Promise<Replica>((resolve, reject) => {
      const waiter: Waiter = { key, tried, replica: null, resolve, reject, timer: null, signal, onAbort: null };
      waiter.timer = setTimeout(() => {
        if (!this.#queue.remove(waiter)) return;
        settle(waiter);
        reject(this.#saturated('queue_timeout'));
      }, waitMs);
      if (signal) {
        waiter.onAbort = () => {
          if (!this.#queue.remove(waiter)) return;
          settle(waiter);
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#queue.push(waiter);
      this.pump();
    });
  }

  #saturated(reason: 'queue_full' | 'queue_timeout'): GatewayError {
    this.context.observer?.saturated(this.model, reason);
    const { maxWaitMs } = this.context.options.queue;
    const retryAfter = Math.max(1, Math.ceil(maxWaitMs / 1000));
    const why = reason === 'queue_full' ? 'and its queue is full' : `and no slot freed within ${maxWaitMs} ms`;
    return new GatewayError(
      503,
      `Every replica of model '${this.model}' is at its limit of requests in flight ${why}. Try again shortly.`,
      {
        type: 'server_error',
        code: 'model_saturated',
        headers: { 'retry-after': String(retryAfter) },
      },
    );
  }
}

/** The waiter leaves the queue: its timer and abort listener go. */
function settle(waiter: Waiter): void {
  if (waiter.timer) clearTimeout(waiter.timer);
  if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
}

function longestTimeout(replicas: readonly Replica[]): number {
  let longest = 0;
  for (const replica of replicas) longest = Math.max(longest, replica.timeoutMs);
  return longest;
}
