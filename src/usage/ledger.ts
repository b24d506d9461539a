import { DuplicateRequestIdError, LedgerUnavailableError } from '../ledger/errors';
import type {
  Admission,
  AdmitResult,
  Ledger,
  LedgerRepository,
  RateResult,
  RecordOutcome,
  Rejection,
  RowKey,
  Settlement,
} from '../ledger/types';
import { DeadlineError, describeError, ledgerRepository, type Store } from '../store';
import { mayHaveCommitted, withDeadline } from '../store/errors';

export interface LedgerOptions {
  /** Most rows written in one transaction (default 200). */
  batchSize?: number;
  /** How long a lone row waits for company before it is written (default 20 ms). */
  flushIntervalMs?: number;
  /** First retry delay after a failed write; doubles each time (default 50 ms). */
  minBackoffMs?: number;
  /** Longest retry delay (default 5 s). */
  maxBackoffMs?: number;
  /**
   * Deadline of one admission round trip (default 5 s). Past it the request is answered as if
   * the database were unreachable (503, or fail-open), and its id is voided.
   */
  admissionTimeoutMs?: number;
  /**
   * Deadline of one write batch (default 20 s). Past it the batch is retried like any failed
   * write: final rows are written once, so a late commit of the first try changes nothing.
   */
  writeTimeoutMs?: number;
  log?: (line: string) => void;
  /**
   * Admissions wait for their WAL flush (AdmitOptions.durable in store/admission.ts). Default: not on
   * a Postgres server, whose memory outlives a killed gateway; always on PGlite, whose database
   * dies with the gateway's process, so an unflushed admission would leave no row at all.
   */
  durableAdmissions?: boolean;
  /**
   * Final rows wait for their WAL flush (default: yes). Off, a batch commits without waiting:
   * only a crash of the Postgres server in the ~0.6 s after it can lose it, and then its requests
   * are left pending (and settled later by the sweeper at their prompt estimate). Never billed
   * twice, never over a limit. Always on for PGlite.
   */
  durableWrites?: boolean;
  /** Told after each committed batch (fail-open bookkeeping, over-limit alerts). */
  onCommit?: (commit: Commit) => void;
}

/** A committed batch: its rows, what became of them, and the ledger's count of commits so far. */
export interface Commit {
  settlements: readonly Settlement[];
  outcome: RecordOutcome;
  epoch: number;
}

type Entry = { kind: 'settle'; settlement: Settlement } | { kind: 'reject'; rejection: Rejection };

/**
 * The ledger on a database. Admission is one awaited statement with a deadline; final rows queue
 * in memory and a background writer commits them in batches, one transaction each. When the
 * database is away the queue holds them and the writer retries with backoff; nothing throws into
 * the request path and nothing is written twice (see store/record.ts).
 *
 * @example
 * const ledger = createLedger(store);
 * const result = await ledger.admit(admission);
 * ledger.settle(settlement); // returns at once
 * await ledger.flush(5_000); // on shutdown
 */
export class StoreLedger implements Ledger {
  readonly #repository: LedgerRepository;
  readonly #batchSize: number;
  readonly #flushIntervalMs: number;
  readonly #minBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #admissionTimeoutMs: number;
  readonly #writeTimeoutMs: number;
  readonly #log: (line: string) => void;
  readonly #durableAdmissions: boolean;
  readonly #durableWrites: boolean;
  readonly #onCommit: ((commit: Commit) => void) | undefined;
  #queue: Entry[] = [];
  #writing = false;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #backoffMs = 0;
  #drained: (() => void)[] = [];
  /** Committed batches so far: orders rows written against admissions (see usage/fail-open.ts). */
  #epoch = 0;

  constructor(repository: LedgerRepository, options: LedgerOptions = {}) {
    this.#repository = repository;
    this.#batchSize = options.batchSize ?? 200;
    this.#flushIntervalMs = options.flushIntervalMs ?? 20;
    this.#minBackoffMs = options.minBackoffMs ?? 50;
    this.#maxBackoffMs = options.maxBackoffMs ?? 5_000;
    this.#admissionTimeoutMs = options.admissionTimeoutMs ?? 5_000;
    this.#writeTimeoutMs = options.writeTimeoutMs ?? 20_000;
    this.#log = options.log ?? ((line) => console.error(line));
    this.#durableAdmissions = options.durableAdmissions ?? repository.kind === 'pglite';
    this.#durableWrites = repository.kind === 'pglite' || options.durableWrites !== false;
    this.#onCommit = options.onCommit;
  }

  get epoch(): number {
    return this.#epoch;
  }

  /**
   * Throws LedgerUnavailableError when the database cannot be reached in time (the caller
   * decides: 503 or fail open), DuplicateRequestIdError when the key already used the id.
   */
  async admit(admission: Admission): Promise<AdmitResult> {
    try {
      return await withDeadline(this.#repository.admit(admission, { durable: this.#durableAdmissions }), this.#admissionTimeoutMs);
    } catch (error) {
      if (this.#repository.isDuplicateRequestId(error))
        throw new DuplicateRequestIdError(`request id ${admission.requestId} already used`, { cause: error });
      if (error instanceof DeadlineError) {
        throw new LedgerUnavailableError(`ledger unavailable: admission took longer than ${this.#admissionTimeoutMs} ms`, {
          cause: error,
          ambiguous: true,
        });
      }
      // A link that broke after the statement was sent may have committed it: void it like a deadline.
      if (this.#repository.isUnavailable(error))
        throw new LedgerUnavailableError(`ledger unavailable: ${describeError(error)}`, {
          cause: error,
          ambiguous: mayHaveCommitted(error),
        });
      throw error;
    }
  }

  async meterRate(key: RowKey): Promise<RateResult> {
    try {
      return await withDeadline(this.#repository.meterRate(key), this.#admissionTimeoutMs);
    } catch (error) {
      if (error instanceof DeadlineError || this.#repository.isUnavailable(error)) {
        throw new LedgerUnavailableError(`ledger unavailable: ${describeError(error)}`, { cause: error });
      }
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
          this.#log(
            `tollgate: ledger waiting=${this.#queue.length} (database unavailable: ${describeError(error)}); retrying in ${this.#backoffMs} ms`,
          );
          this.#schedule(this.#backoffMs);
          return;
        }
        this.#backoffMs = 0;
        // Rows that arrived during that commit wait for the next interval unless they fill a
        // batch or someone is flushing. Written at once, a single connection's requests made a
        // durable commit every two or three requests (each a WAL flush, a window and lease row
        // update): at low load that cost Postgres five times the CPU per request it costs at 64
        // connections.
        if (this.#queue.length > 0 && this.#queue.length < this.#batchSize && this.#drained.length === 0) {
          this.#schedule(this.#flushIntervalMs);
          return;
        }
      }
    } finally {
      this.#writing = false;
      if (this.#queue.length === 0) for (const resolve of this.#drained.splice(0)) resolve();
    }
  }

  /** Writes a batch in one transaction. A permanent error in one row must not hold back the rest: then they go one by one, and the bad ones are dropped with a log line. */
  async #write(batch: Entry[]): Promise<{ written: number; error?: unknown }> {
    try {
      await this.#commit(batch);
      return { written: batch.length };
    } catch (error) {
      const permanent = this.#repository.isPermanent(error);
      if (!permanent) return { written: 0, error };
      if (batch.length === 1) {
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
    const outcome = await withDeadline(
      this.#repository.record({ settlements, rejections }, { durable: this.#durableWrites }),
      this.#writeTimeoutMs,
    );
    this.#epoch++;
    for (const row of outcome.overLimit)
      this.#log(
        `tollgate: request ${row.requestId} of ${row.keyId}, written without a reservation, left its budget window over the limit (row flagged over_limit)`,
      );
    for (const requestId of outcome.idTaken)
      this.#log(`tollgate: request ${requestId} was not billed: another request of its key already holds that id`);
    this.#onCommit?.({ settlements, outcome, epoch: this.#epoch });
  }
}

export function createLedger(store: Store, options?: LedgerOptions): StoreLedger {
  return new StoreLedger(ledgerRepository(store), options);
}

/** The first entry per key and request id: a request is final once. */
function unique<T extends { requestId: string; keyId: string }>(entries: T[]): T[] {
  const seen = new Set<string>();
  return entries.filter((entry) => {
    const id = `${entry.keyId}\u0000${entry.requestId}`;
    return !seen.has(id) && seen.add(id);
  });
}

function describeEntry(entry: Entry): string {
  return entry.kind === 'settle' ? `settlement of ${entry.settlement.requestId}` : `rejection of ${entry.rejection.requestId}`;
}
