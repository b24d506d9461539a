import { admitRequest, recordRejections, settleRequests, type Store } from '../store';
import { describeError, isTransient, isUnavailable, LedgerUnavailableError } from './errors';
import type { Admission, AdmitResult, Ledger, Rejection, Settlement } from './types';

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

type Entry = { kind: 'settle'; settlement: Settlement } | { kind: 'reject'; rejection: Rejection };

/**
 * The ledger on a Store. Admission is one awaited statement; settlements and rejections queue in
 * memory and a background writer commits them in batches, one transaction each. When the
 * database is away the queue holds them and the writer retries with backoff; nothing throws into
 * the request path and nothing is written twice (settles are guarded by `status = 'pending'`,
 * rejections by the request id).
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
    try {
      return await admitRequest(this.#store, admission, { durable: this.#durableAdmissions });
    } catch (error) {
      if (isUnavailable(error)) throw new LedgerUnavailableError(`ledger unavailable: ${describeError(error)}`, { cause: error });
      throw error;
    }
  }

  settle(settlement: Settlement): void {
    this.#enqueue({ kind: 'settle', settlement });
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
    await this.#store.transaction(async (tx) => {
      await recordRejections(tx, rejections);
      await settleRequests(tx, settlements);
    });
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
  return entry.kind === 'settle' ? `settlement of ${entry.settlement.requestId}` : `rejection of ${entry.rejection.requestId}`;
}
