import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { BackendObserver, Replica, ReplicaPool, RetryReason } from '../backends';
import type { AdmitResult, Rejection, Settlement } from '../ledger/types';
import type { Commit } from '../usage/ledger';
import { COUNTED_PATHS, type MetricsEndpoint } from './endpoint';
import { TalliedHistogram } from './histogram';
import type { LedgerTap } from './ledger-tap';
import { collectTokenizer } from './tokenizer';

/** Where the gauges read from at scrape time (set once the gateway is wired). */
export interface MetricSources {
  pool: ReplicaPool;
  ledgerWaiting: () => number;
  failOpenAdmitted: () => number;
}

/** What a model (or a model and key) has been billed since start; plain fields, so a request costs a few additions. */
interface Tally {
  readonly labels: { model: string; key?: string };
  /** status → outcome → requests. */
  readonly requests: Record<string, Record<string, number>>;
  promptTokens: number;
  completionTokens: number;
  /** Picodollars, exact. */
  cost: bigint;
}

const PICO_PER_NANO = 1000n;

/**
 * The Prometheus instruments (prom-client, on a registry of their own). Request, token and cost
 * counters are tallied in plain fields as final rows pass the ledger (LedgerTap) and copied into
 * prom-client at scrape time; gauges (replicas, queues, ledger, tokenizer) are read at scrape
 * time; histograms are tallied in plain fields too (metrics/histogram.ts). The hot path does no
 * label hashing and allocates nothing once a model has been seen.
 *
 * Cost is `tollgate_cost_nanodollars_total`: the exact bigint total of picodollars, floored to
 * nanodollars when scraped. A float64 counter is exact to 2^53 units: in picodollars that is only
 * about $9,000 per process; in nanodollars about $9 million, and each scrape is computed from the
 * exact total, so no rounding accumulates.
 *
 * @example
 * const instruments = new Instruments({ perKey: false });
 * instruments.watch({ pool, ledgerWaiting: () => ledger.waiting, failOpenAdmitted: () => 0 });
 * const text = await instruments.render();
 */
export class Instruments implements LedgerTap, BackendObserver, MetricsEndpoint {
  readonly registry = new Registry();
  /** Label counters with the key id too (`gateway.metrics.perKey`; a reload may change it). */
  perKey: boolean;
  #sources: MetricSources | null = null;
  readonly #tallies = new Map<string, Tally>();
  readonly #http: Record<string, Record<number, number>> = Object.create(null);
  readonly #admission: TalliedHistogram;
  readonly #duration: TalliedHistogram;
  readonly #ttfb: TalliedHistogram;
  readonly #flush: TalliedHistogram;
  readonly #retries: Counter<'model' | 'reason'>;
  readonly #failovers: Counter<'model'>;
  readonly #saturated: Counter<'model' | 'reason'>;

  constructor(options: { perKey: boolean; processMetrics?: boolean }) {
    this.perKey = options.perKey;
    const registers = [this.registry];
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    const tallied = (name: string, help: string, read: (tally: Tally) => number) =>
      new Counter({
        name,
        help,
        labelNames: ['model', 'key'],
        registers,
        collect: () => {
          const counter = this.registry.getSingleMetric(name) as Counter<'model' | 'key'>;
          counter.reset();
          for (const tally of this.#tallies.values()) counter.inc(tally.labels, read(tally));
        },
      });
    new Counter({
      name: 'tollgate_requests_total',
      help: 'Requests with a final ledger row, by model, row status and outcome (ok, or the error code)',
      labelNames: ['model', 'key', 'status', 'outcome'],
      registers,
      collect: () => {
        const counter = this.registry.getSingleMetric('tollgate_requests_total') as Counter<'model' | 'key' | 'status' | 'outcome'>;
        counter.reset();
        for (const tally of this.#tallies.values())
          for (const [status, outcomes] of Object.entries(tally.requests))
            for (const [outcome, count] of Object.entries(outcomes)) counter.inc({ ...tally.labels, status, outcome }, count);
      },
    });
    tallied('tollgate_prompt_tokens_total', 'Prompt tokens billed', (tally) => tally.promptTokens);
    tallied('tollgate_completion_tokens_total', 'Completion tokens billed', (tally) => tally.completionTokens);
    tallied('tollgate_cost_nanodollars_total', 'Cost billed, in nanodollars (USD 1e-9), floored from the exact total', (tally) =>
      Number(tally.cost / PICO_PER_NANO),
    );
    new Counter({
      name: 'tollgate_http_responses_total',
      help: 'HTTP answers by path (the API paths; anything else is "other") and status code',
      labelNames: ['path', 'code'],
      registers,
      collect: () => {
        const counter = this.registry.getSingleMetric('tollgate_http_responses_total') as Counter<'path' | 'code'>;
        counter.reset();
        for (const [path, codes] of Object.entries(this.#http))
          for (const [code, count] of Object.entries(codes)) counter.inc({ path, code }, count);
      },
    });
    this.#admission = new TalliedHistogram({
      name: 'tollgate_admission_seconds',
      help: 'Admission: the one round trip that checks the key, reserves the budget and writes the pending row',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5],
      registry: this.registry,
    });
    this.#ttfb = new TalliedHistogram({
      name: 'tollgate_upstream_ttfb_seconds',
      help: "Time from sending an attempt to the backend's response head, by replica",
      labelName: 'replica',
      buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
      registry: this.registry,
    });
    this.#duration = new TalliedHistogram({
      name: 'tollgate_request_duration_seconds',
      help: 'Whole admitted requests, arrival to final row (a stream to its last byte), by model',
      labelName: 'model',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registry: this.registry,
    });
    this.#flush = new TalliedHistogram({
      name: 'tollgate_ledger_flush_seconds',
      help: 'How long the oldest row of each written ledger batch waited, from its request end to its commit',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
      registry: this.registry,
    });
    this.#retries = new Counter({
      name: 'tollgate_upstream_retries_total',
      help: 'Attempts that failed before any byte and were retried on another replica, by reason (connect, status_503, status_429)',
      labelNames: ['model', 'reason'],
      registers,
    });
    this.#failovers = new Counter({
      name: 'tollgate_upstream_failovers_total',
      help: 'Requests answered by a replica after another one failed them',
      labelNames: ['model'],
      registers,
    });
    this.#saturated = new Counter({
      name: 'tollgate_queue_rejections_total',
      help: 'Requests refused with 503 because every replica was at its in-flight limit (queue_full, queue_timeout)',
      labelNames: ['model', 'reason'],
      registers,
    });
    this.#gauges(registers);
    collectTokenizer(registers);
  }

  /** Connects the scrape-time gauges to the running gateway. */
  watch(sources: MetricSources): void {
    this.#sources = sources;
    sources.pool.observer = this;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  // LedgerTap: every final row.
  admitted(ms: number, _result: AdmitResult): void {
    this.#admission.observe(ms / 1000);
  }

  settled(s: Settlement): void {
    const model = s.row?.admission.routedModel ?? 'unknown';
    const tally = this.#tally(model, s.keyId);
    count(tally, s.status, outcomeOf(s.errorCode));
    tally.promptTokens += s.promptTokens;
    tally.completionTokens += s.completionTokens;
    tally.cost += s.billedCost;
    if (s.latencyMs !== null) this.#duration.child(model).observe(s.latencyMs / 1000);
  }

  rejected(r: Rejection): void {
    count(this.#tally(r.routedModel ?? r.requestedModel, r.keyId), 'rejected', outcomeOf(r.errorCode));
  }

  /** A ledger batch committed (nodeLedger's onCommit). */
  committed(commit: Commit, nowMs: number): void {
    let oldest = Number.POSITIVE_INFINITY;
    for (const settlement of commit.settlements) oldest = Math.min(oldest, settlement.finishedAt.getTime());
    if (oldest !== Number.POSITIVE_INFINITY) this.#flush.observe(Math.max(0, nowMs - oldest) / 1000);
  }

  // BackendObserver.
  answered(replica: Replica, ms: number): void {
    this.#ttfb.child(replica.name).observe(ms / 1000);
  }

  retried(model: string, reason: RetryReason): void {
    this.#retries.inc({ model, reason });
  }

  failedOver(model: string): void {
    this.#failovers.inc({ model });
  }

  saturated(model: string, reason: 'queue_full' | 'queue_timeout'): void {
    this.#saturated.inc({ model, reason });
  }

  // MetricsEndpoint.
  responded(path: string, status: number): void {
    const counted = (COUNTED_PATHS as readonly string[]).includes(path) ? path : 'other';
    const codes = (this.#http[counted] ??= Object.create(null) as Record<number, number>);
    codes[status] = (codes[status] ?? 0) + 1;
  }

  #tally(model: string, keyId: string): Tally {
    const id = this.perKey ? `${model}\u0000${keyId}` : model;
    let tally = this.#tallies.get(id);
    if (!tally) {
      const labels = this.perKey ? { model, key: keyId } : { model };
      tally = { labels, requests: Object.create(null), promptTokens: 0, completionTokens: 0, cost: 0n };
      this.#tallies.set(id, tally);
    }
    return tally;
  }

  #gauges(registers: Registry[]): void {
    const replicas = () => this.#sources?.pool.replicas.values() ?? [][Symbol.iterator]();
    const perReplica = (name: string, help: string, type: 'gauge' | 'counter', read: (replica: Replica) => number) => {
      const Metric = type === 'gauge' ? Gauge : Counter;
      const metric: Gauge<'replica'> | Counter<'replica'> = new Metric({
        name,
        help,
        labelNames: ['replica'],
        registers,
        collect: () => {
          metric.reset();
          for (const replica of replicas()) {
            if (metric instanceof Gauge) metric.set({ replica: replica.name }, read(replica));
            else metric.inc({ replica: replica.name }, read(replica));
          }
        },
      });
    };
    perReplica('tollgate_replica_healthy', '1 while the replica is healthy (its breaker closed), 0 while ejected', 'gauge', (r) =>
      r.healthy ? 1 : 0,
    );
    perReplica('tollgate_replica_in_flight', 'Requests sent to the replica and not finished', 'gauge', (r) => r.inFlight);
    perReplica('tollgate_replica_ejections_total', 'Times the replica was ejected (its breaker opened)', 'counter', (r) => r.ejections);
    const queueDepth: Gauge<'model'> = new Gauge({
      name: 'tollgate_queue_depth',
      help: 'Requests waiting for a replica of the model',
      labelNames: ['model'],
      registers,
      collect: () => {
        queueDepth.reset();
        for (const [model, route] of this.#sources?.pool.table.routes ?? []) queueDepth.set({ model }, route.waiting);
      },
    });
    const ledgerDepth: Gauge = new Gauge({
      name: 'tollgate_ledger_queue_depth',
      help: 'Final ledger rows waiting in memory to be written',
      registers,
      collect: () => ledgerDepth.set(this.#sources?.ledgerWaiting() ?? 0),
    });
    const failOpen: Counter = new Counter({
      name: 'tollgate_fail_open_admissions_total',
      help: 'Requests admitted while the database was unreachable (keys with failOpen)',
      registers,
      collect: () => {
        failOpen.reset();
        failOpen.inc(this.#sources?.failOpenAdmitted() ?? 0);
      },
    });
  }
}

function count(tally: Tally, status: string, outcome: string): void {
  const outcomes = (tally.requests[status] ??= Object.create(null) as Record<string, number>);
  outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
}

/**
 * A bounded `outcome` label: `ok`, or the row's error code (codes are the gateway's own words; a
 * backend's status is folded to its class, `upstream_5xx`).
 */
export function outcomeOf(errorCode: string | null): string {
  if (errorCode === null) return 'ok';
  if (/^upstream_\d{3}$/.test(errorCode)) return `upstream_${errorCode[9]}xx`;
  return /^[a-z][a-z0-9_]{0,47}$/.test(errorCode) ? errorCode : 'other';
}
