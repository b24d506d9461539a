import { formatUsd, type Money, type Price } from '../pricing';
import { admitRequest, recordFailOpenRequests, recordRejections, settleRequests, type Store } from '../store';
import { describeError, isTransient, isUnavailable, LedgerUnavailableError } from './errors';
import { FailOpenAllowance } from './fail-open';
import type { Admission, AdmitResult, FailOpenDecision, FailOpenRequest, Ledger, Rejection, Settlement } from './types';

export interface LedgerOptions {
  /** Most entries written in one transaction (default 200). */
  batchSize?: number;
  /** How long a lone entry waits for company before it is written (default 20 ms). */
  flushIntervalMs?: number;
  /** First retry delay after a failed write; doubles each time (default 50 ms). */
  minBackoffMs?: number;
  /** Longest retry delay (default 5 s). */
  maxBackoffMs?: number;
  log?: (line: string) => void;
  /**
   * Admissions wait for their WAL flush (AdmitOptions.durable in store/admission.ts). Default: not on
   * a Postgres server, whose memory outlives a killed gateway; always on PGlite, whose database
   * dies with the gateway's process, so an unflushed admission would leave no row at all.
   */
  durableAdmissions?: boolean;
}

type Entry =
  | { kind: 'settle'; settlement: Settlement }
  | { kind: 'reject'; rejection: Rejection }
  | { kind: 'failOpen'; request: FailOpenRequest };

/**
 * The ledger on a Store. Admission is one awaited statement; settlements and rejections queue in
 * memory and a background writer commits them in batches, one transaction each. When the
 * database is away the queue holds them and the writer retries with backoff; nothing throws into
 * the request path and nothing is written twice (settles are guarded by `status = 'pending'`,
 * rejections and fail-open rows by the request id).
 *
 * A `failOpen` key's request may be admitted without the database (admitFailOpen); its settle
 * then queues the whole row, written with its spend when the database returns.
 *
 * @example
 * const ledger = createLedger(store);
 * const admitted = await ledger.admit(admission);
 * ledger.settle(settlement); // returns at once
 * await ledger.flush(5_000); // on shutdown
 */
export class StoreLedger implements Ledger {
  readonly #store: Store;
  readonly #batchSize: number;
  readonly #flushIntervalMs: number;
  readonly #minBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #log: (line: string) => void;
  readonly #durableAdmissions: boolean;
  #queue: Entry[] = [];
  #writing = false;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #backoffMs = 0;
  #drained: (() => void)[] = [];
  /** Committed batches so far: orders fail-open rows against admissions (see FailOpenAllowance). */
  #epoch = 0;
  readonly #allowance = new FailOpenAllowance();
  /** Admitted fail-open and not yet settled, by request id. */
  readonly #unsettledFailOpen = new Map<string, { admission: Admission; price: Price; reservedCost: Money }>();
  #failOpenAdmitted = 0;

  constructor(store: Store, options: LedgerOptions = {}) {
    this.#store = store;
    this.#batchSize = options.batchSize ?? 200;
    this.#flushIntervalMs = options.flushIntervalMs ?? 20;
    this.#minBackoffMs = options.minBackoffMs ?? 50;
    this.#maxBackoffMs = options.maxBackoffMs ?? 5_000;
    this.#log = options.log ?? ((line) => console.error(line));
    this.#durableAdmissions = options.durableAdmissions ?? store.kind === 'pglite';
  }

  /** Throws LedgerUnavailableError when the database cannot be reached (the caller decides: 503 or fail open). */
  async admit(admission: Admission): Promise<AdmitResult> {
    const epoch = this.#epoch;
    try {
      const result = await admitRequest(this.#store, admission, { durable: this.#durableAdmissions });
      this.#allowance.observe(admission, result, epoch);
      return result;
    } catch (error) {
      if (isUnavailable(error)) throw new LedgerUnavailableError(`ledger unavailable: ${describeError(error)}`, { cause: error });
      throw error;
    }
  }

  /** For a `failOpen` key after admit threw LedgerUnavailableError: decides from this instance's memory, logs an admission. */
  admitFailOpen(admission: Admission, key: { budgeted: boolean }): FailOpenDecision {
    const decision = this.#allowance.grant(admission, key.budgeted);
    if (!decision.admitted) return decision;
    this.#unsettledFailOpen.set(admission.requestId, { admission, price: decision.price, reservedCost: decision.reservedCost });
    this.#failOpenAdmitted++;
    this.#log(
      `tollgate: admitted ${admission.requestId} of ${admission.keyId} fail-open (ledger unavailable; ${admission.routedModel}, ` +
        `worst case $${formatUsd(decision.reservedCost)}); its row is written when the database returns`,
    );
    return decision;
  }

  get failOpenAdmitted(): number {
    return this.#failOpenAdmitted;
  }

  settle(settlement: Settlement): void {
    const failOpen = this.#unsettledFailOpen.get(settlement.requestId);
    if (!failOpen) return this.#enqueue({ kind: 'settle', settlement });
    // It has no pending row to finalize: the whole row goes in its place.
    this.#unsettledFailOpen.delete(settlement.requestId);
    this.#allowance.settled(failOpen.admission.keyId, settlement.requestId, {
      cost: settlement.billedCost,
      tokens: settlement.promptTokens + settlement.completionTokens,
    });
    this.#enqueue({ kind: 'failOpen', request: { ...failOpen, settlement } });
  }

  reject(rejection: Rejection): void {
    this.#enqueue({ kind: 'reject', rejection });
  }

  get waiting(): number {
    return this.#queue.length;
  }

  /** Writes everything queued now (skipping any backoff wait); resolves when empty or after `timeoutMs`. */
  async flush(timeoutMs = 10_000): Promise<void> {
    if (this.#queue.length === 0 && !this.#writing) return;
    const drained = new Promise<void>((resolve) => this.#drained.push(resolve));
    if (!this.#writing) this.#schedule(0);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([drained, timeout]);
    clearTimeout(timer);
    if (this.#queue.length > 0) this.#log(`tollgate: ledger flush timed out with waiting=${this.#queue.length}`);
  }

  #enqueue(entry: Entry): void {
    this.#queue.push(entry);
    if (this.#writing || this.#backoffMs > 0) return;
    if (this.#queue.length >= this.#batchSize) this.#schedule(0);
    else if (!this.#timer) this.#schedule(this.#flushIntervalMs);
  }

  #schedule(delayMs: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#drain();
    }, delayMs);
    // Node: the queue alone must not keep a process alive (shutdown calls flush). Workers have no unref.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  async #drain(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.slice(0, this.#batchSize);
        const { written, error } = await this.#write(batch);
        this.#queue.splice(0, written);
        if (error !== undefined) {
          this.#backoffMs = Math.min(Math.max(this.#backoffMs * 2, this.#minBackoffMs), this.#maxBackoffMs);
          this.#log(`tollgate: ledger waiting=${this.#queue.length} (database unavailable: ${describeError(error)}); retrying in ${this.#backoffMs} ms`);
          this.#schedule(this.#backoffMs);
          return;
        }
        this.#backoffMs = 0;
      }
    } finally {
      this.#writing = false;
      if (this.#queue.length === 0) for (const resolve of this.#drained.splice(0)) resolve();
    }
  }

  /** Writes a batch in one transaction. A permanent error in one entry must not hold back the rest: then they go one by one, and the bad ones are dropped with a log line. */
  async #write(batch: Entry[]): Promise<{ written: number; error?: unknown }> {
    try {
      await this.#commit(batch);
      return { written: batch.length };
    } catch (error) {
      if (isTransient(error) || batch.length === 1) {
        if (isTransient(error)) return { written: 0, error };
        this.#log(`tollgate: ledger dropped ${describeEntry(batch[0]!)}: ${describeError(error)}`);
        return { written: 1 };
      }
    }
    for (let index = 0; index < batch.length; index++) {
      const result = await this.#write([batch[index]!]);
      if (result.error !== undefined) return { written: index, error: result.error };
    }
    return { written: batch.length };
  }

  async #commit(batch: Entry[]): Promise<void> {
    const settlements = unique(batch.flatMap((entry) => (entry.kind === 'settle' ? [entry.settlement] : [])));
    const rejections = unique(batch.flatMap((entry) => (entry.kind === 'reject' ? [entry.rejection] : [])));
    const failOpen = unique(batch.flatMap((entry) => (entry.kind === 'failOpen' ? [{ requestId: entry.request.admission.requestId, ...entry.request }] : [])));
    const outcome = await this.#store.transaction(async (tx) => {
      await recordRejections(tx, rejections);
      await settleRequests(tx, settlements);
      return recordFailOpenRequests(tx, failOpen);
    });
    this.#epoch++;
    this.#allowance.written(failOpen.map((request) => request.admission), this.#epoch);
    for (const requestId of outcome.overLimit) this.#log(`tollgate: fail-open request ${requestId} left its key's budget window over the limit (row flagged over_limit)`);
    for (const requestId of outcome.idTaken) this.#log(`tollgate: fail-open request ${requestId} was not billed: another request already holds that id`);
  }
}

export function createLedger(store: Store, options?: LedgerOptions): StoreLedger {
  return new StoreLedger(store, options);
}

/** The first entry per request id: a request is final once. */
function unique<T extends { requestId: string }>(entries: T[]): T[] {
  const seen = new Set<string>();
  return entries.filter((entry) => !seen.has(entry.requestId) && seen.add(entry.requestId));
}

function describeEntry(entry: Entry): string {
  if (entry.kind === 'settle') return `settlement of ${entry.settlement.requestId}`;
  if (entry.kind === 'reject') return `rejection of ${entry.rejection.requestId}`;
  return `fail-open request ${entry.request.admission.requestId}`;
}
