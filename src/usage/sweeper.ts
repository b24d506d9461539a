import { sweepPendingRequests, type Store } from '../store';
import { pruneRateWindows } from '../store/alerts';
import { describeError } from './errors';

export interface SweepOptions {
  /** A pending row older than this is abandoned: use the longest backend timeout plus a margin. */
  olderThanMs: number;
  now?: Date;
  /** Rows per statement (default 500). */
  batchSize?: number;
}

/**
 * Settles abandoned `pending` rows (the gateway died between admit and settle) as `incomplete`,
 * billing the prompt estimate at the row's price and releasing the reservation. Each batch is one
 * statement; rows are guarded by `status = 'pending'`, so a late settle and a sweep never both
 * count. Returns how many rows it finalized.
 */
export async function sweep(store: Store, options: SweepOptions): Promise<number> {
  const now = options.now ?? new Date();
  const cutoff = new Date(now.getTime() - options.olderThanMs);
  const batchSize = options.batchSize ?? 500;
  let total = 0;
  for (;;) {
    const finalized = await sweepPendingRequests(store, cutoff, now, batchSize);
    total += finalized;
    if (finalized < batchSize) break;
  }
  // Per-minute rate windows are only read for the current minute; an hour back is plenty.
  await pruneRateWindows(store, new Date(now.getTime() - 3_600_000));
  return total;
}

export interface Sweeper {
  /** Stops the timer and waits for a sweep in progress. */
  stop(): Promise<void>;
}

/** Sweeps every `intervalMs` (default 60 s) on an unref'd timer; failures are logged, never thrown. */
export function startSweeper(
  store: Store,
  options: { olderThanMs: number; intervalMs?: number; now?: () => Date; log?: (line: string) => void },
): Sweeper {
  const log = options.log ?? ((line: string) => console.error(line));
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(async () => {
      try {
        const finalized = await sweep(store, { olderThanMs: options.olderThanMs, now: options.now?.() });
        if (finalized > 0) log(`tollgate: swept ${finalized} abandoned request(s) as incomplete`);
      } catch (error) {
        log(`tollgate: sweep failed (${describeError(error)}); will retry`);
      }
    });
  }, options.intervalMs ?? 60_000);
  (timer as { unref?: () => void }).unref?.();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
