import { databaseNow, describeError, pruneRateWindows, type Store, sweepPendingRequests } from '../store';

export interface SweepOptions {
  /** A pending row older than this is abandoned, whoever owns it: use the longest backend timeout plus a margin. */
  olderThanMs: number;
  /**
   * A pending row whose owning instance has not beaten for this long (or stopped) is abandoned at
   * once. Absent: owners are not looked at.
   */
  ownerSilentMs?: number;
  now?: Date;
  /** Rows per statement (default 500). */
  batchSize?: number;
  /** Also delete old rate windows (default true; the heartbeat's frequent sweeps leave that to maintenance). */
  pruneRateWindows?: boolean;
}

/**
 * Settles abandoned `pending` rows (their gateway died between admission and settle) as
 * `incomplete`, billing the prompt estimate at the row's price and releasing the reservation.
 * Each batch is one statement; rows are guarded by `status = 'pending'`, so a late settle and a
 * sweep never both count. Returns how many rows it finalized.
 */
export async function sweep(store: Store, options: SweepOptions): Promise<number> {
  const now = options.now ?? new Date();
  const startedBefore = new Date(now.getTime() - options.olderThanMs);
  // Heartbeats carry the database's clock, so the silence is measured on it too.
  const ownerSilentSince =
    options.ownerSilentMs === undefined ? undefined : new Date((await databaseNow(store)).getTime() - options.ownerSilentMs);
  const batchSize = options.batchSize ?? 500;
  let total = 0;
  for (;;) {
    const finalized = await sweepPendingRequests(store, { startedBefore, ownerSilentSince }, now, batchSize);
    total += finalized;
    if (finalized < batchSize) break;
  }
  // Per-minute rate windows are only read for the current minute; an hour back is plenty.
  if (options.pruneRateWindows !== false) await pruneRateWindows(store, new Date(now.getTime() - 3_600_000));
  return total;
}

export interface Sweeper {
  /** Stops the timer and waits for a sweep in progress. */
  stop(): Promise<void>;
}

/** Sweeps every `intervalMs` (default 60 s) on an unref'd timer; failures are logged, never thrown. */
export function startSweeper(
  store: Store,
  options: { olderThanMs: number; ownerSilentMs?: number; intervalMs?: number; now?: () => Date; log?: (line: string) => void },
): Sweeper {
  return startInterval(
    async () => {
      const finalized = await sweep(store, {
        olderThanMs: options.olderThanMs,
        ownerSilentMs: options.ownerSilentMs,
        now: options.now?.(),
      });
      if (finalized > 0) (options.log ?? console.error)(`tollgate: swept ${finalized} abandoned request(s) as incomplete`);
    },
    options.intervalMs ?? 60_000,
    (error) => (options.log ?? console.error)(`tollgate: sweep failed (${describeError(error)}); will retry`),
  );
}

/** Runs `task` every `intervalMs`, one run at a time, on an unref'd timer; `stop` waits for a run in progress. */
export function startInterval(task: () => Promise<void>, intervalMs: number, onError: (error: unknown) => void): Sweeper {
  let running: Promise<void> = Promise.resolve();
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    running = task()
      .catch(onError)
      .finally(() => {
        busy = false;
      });
  }, intervalMs);
  (timer as { unref?: () => void }).unref?.();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
