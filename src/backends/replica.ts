import type { BackendConfig } from '../config';

/** How a replica's health is judged (the config's `gateway.health`). */
export interface HealthPolicy {
  /** Consecutive failures that eject a healthy replica. */
  failureThreshold: number;
  /** First back-off; it doubles with each failed trial, up to `maxBackoffMs`. */
  backoffMs: number;
  maxBackoffMs: number;
}

/**
 * One backend server of a model: what the balancer reads (in-flight count, weight, capacity) and
 * its circuit breaker. Healthy, it takes requests. Failures (connect errors, timeouts, 5xx) past
 * the threshold eject it for a back-off; once that has passed it is tried again by a single
 * request (the trial). A trial that succeeds closes the breaker; one that fails ejects it again
 * for twice as long. Only the trial's verdict counts while ejected: requests that were already
 * running when it was ejected change nothing, so a burst of late failures cannot stretch the
 * back-off. A backend's `Retry-After` ejects it at once, for as long as it asked (within a bound).
 *
 * @example
 * const replica = new Replica('gpu-a', { url: 'http://10.0.0.1:8000/v1', timeoutMs: 600_000 });
 * replica.take(now); … replica.failed(now, replica.lastTakeWasTrial, policy); replica.release();
 */
export class Replica {
  readonly url: string;
  readonly apiKey: string | undefined;
  readonly timeoutMs: number;
  weight: number;
  /** Infinity when the config sets no maxInFlight. */
  maxInFlight: number;
  /** Requests sent to it and not finished (the balancer's "outstanding requests"). */
  inFlight = 0;
  /** Times it was ejected since start (a metric). */
  ejections = 0;
  /** Set by `take`: the request just given this replica is its trial. */
  lastTakeWasTrial = false;
  /** Smooth weighted round-robin state, for ties between equally loaded replicas (balance.ts). */
  current = 0;
  /** Model routes that use it: a slot freed here may let one of their waiting requests go. */
  routes: readonly { pump(): void }[] = [];

  #failures = 0;
  #trips = 0;
  #ejected = false;
  /** Ejected by an active probe (not by requests): only a good probe ends it. */
  #byProbe = false;
  #ejectedUntil = 0;
  #trialRunning = false;

  constructor(
    readonly name: string,
    config: Pick<BackendConfig, 'url' | 'apiKey' | 'timeoutMs' | 'weight' | 'maxInFlight'>,
  ) {
    this.url = config.url.replace(/\/+$/, '');
    this.apiKey = config.apiKey;
    this.timeoutMs = config.timeoutMs;
    this.weight = config.weight ?? 1;
    this.maxInFlight = config.maxInFlight ?? Number.POSITIVE_INFINITY;
  }

  /** Not ejected: the breaker is closed. */
  get healthy(): boolean {
    return !this.#ejected;
  }

  /** Ejected, with its back-off over: the next request to it is a trial. */
  trialDue(now: number): boolean {
    return this.#ejected && now >= this.#ejectedUntil;
  }

  get hasCapacity(): boolean {
    return this.inFlight < this.maxInFlight;
  }

  /** It may be given a request now: capacity left, and healthy or due for its one trial. */
  selectable(now: number): boolean {
    if (this.inFlight >= this.maxInFlight) return false;
    return !this.#ejected || (now >= this.#ejectedUntil && !this.#trialRunning);
  }

  /** Counts a request in flight; sets `lastTakeWasTrial` when the replica is ejected. */
  take(): void {
    this.inFlight++;
    this.lastTakeWasTrial = this.#ejected;
    if (this.#ejected) this.#trialRunning = true;
  }

  /** The request is over (its body read or abandoned). Whatever it was, its slot is free. */
  release(trial: boolean): void {
    this.inFlight--;
    if (trial) this.#trialRunning = false;
    for (const route of this.routes) route.pump();
  }

  /** The backend answered (a status below 500, other than 429). */
  succeeded(trial: boolean): void {
    this.#failures = 0;
    if (trial) this.#close();
  }

  /**
   * Connect error, timeout or 5xx, or 429/503 (`retryAfterMs` given, possibly 0: the backend is
   * busy and may have said for how long).
   */
  failed(now: number, trial: boolean, policy: HealthPolicy, retryAfterMs?: number): void {
    if (this.#ejected && !trial) {
      if (retryAfterMs) this.#ejectedUntil = Math.max(this.#ejectedUntil, now + retryAfterMs);
      return;
    }
    if (trial) this.#trialRunning = false;
    this.#failures++;
    if (trial || retryAfterMs !== undefined || this.#failures >= policy.failureThreshold) this.#eject(now, policy, retryAfterMs ?? 0);
  }

  /**
   * An active probe's answer. A failure ejects a healthy replica until a probe succeeds (requests
   * that would succeed do not overrule the probe: the operator chose to trust it). A success lets
   * a replica the probes ejected back at once; one that requests ejected keeps its back-off and
   * trial (a backend that answers its health check but fails requests is not let back on its word).
   */
  probed(ok: boolean, now: number, policy: HealthPolicy): void {
    if (ok) {
      if (this.#ejected && this.#byProbe) this.#close();
      return;
    }
    if (this.#ejected) return;
    this.#eject(now, policy, 0);
    this.#byProbe = true;
    this.#ejectedUntil = Number.POSITIVE_INFINITY;
  }

  /** Active probes stopped: an ejection only a probe could end is left to its trial request instead. */
  probesStopped(now: number): void {
    if (this.#ejected && this.#byProbe) {
      this.#byProbe = false;
      this.#ejectedUntil = now;
    }
  }

  #close(): void {
    this.#ejected = false;
    this.#byProbe = false;
    this.#trips = 0;
    this.#failures = 0;
    this.#trialRunning = false;
  }

  #eject(now: number, policy: HealthPolicy, atLeastMs: number): void {
    this.#trips++;
    this.#ejected = true;
    this.#byProbe = false;
    this.#failures = 0;
    this.ejections++;
    this.#ejectedUntil = now + Math.max(this.#backoff(policy), atLeastMs);
  }

  #backoff(policy: HealthPolicy): number {
    return Math.min(policy.backoffMs * 2 ** Math.min(Math.max(this.#trips - 1, 0), 30), policy.maxBackoffMs);
  }
}
