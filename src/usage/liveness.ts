import { describeError, heartbeat, type InstanceInfo, type Store } from '../store';
import { liveInstances } from '../store/instances';
import { releaseLeases } from '../store/leases';
import { type Sweeper, startInterval, sweep } from './sweeper';

export interface LivenessOptions {
  store: Store;
  instance: InstanceInfo;
  /** Beat every this often (TOLLGATE_HEARTBEAT_MS). */
  heartbeatMs: number;
  /** An owner silent this long is gone: its pending rows are settled as `incomplete`. */
  ownerSilentMs: number;
  /** A pending row older than this is abandoned whoever owns it. */
  olderThanMs: number;
  log: (line: string) => void;
  /**
   * After each beat's sweep (e.g. adopting the fail-open journals of instances that are gone):
   * `alive` tells which of some instances still beat; while this instance may not judge owners
   * yet (see below) it answers that all of them do.
   */
  afterBeat?: (alive: (instanceIds: string[]) => Promise<Set<string>>) => Promise<void>;
  /**
   * The heartbeat resumed after a gap long enough for this instance to have been judged gone:
   * the others may have released its budget leases (usage/leases.ts forgets them).
   */
  onResumed?: () => Promise<void>;
  /** Monotonic milliseconds (default performance.now). */
  clock?: () => number;
}

/**
 * This instance's heartbeat, and the settling of rows whose owner stopped beating: each beat
 * updates `gateway_instances` and then sweeps the pending rows of instances silent for
 * `ownerSilentMs`, so a killed instance's rows are final (and their reservations released)
 * within seconds. A live owner's rows are never touched, however long its streams run.
 *
 * Owners are judged only after this instance has itself beaten without a gap for `ownerSilentMs`:
 * after an outage every instance was silent, and each needs that long to beat again before
 * silence means death. That also holds after a start.
 *
 * @example
 * const liveness = startLiveness({ store, instance, heartbeatMs: 2_000, ownerSilentMs: 6_000, olderThanMs, log });
 * await liveness.stop();
 */
export function startLiveness(options: LivenessOptions): Sweeper {
  const clock = options.clock ?? (() => performance.now());
  let steadySince = clock();
  return startInterval(
    async () => {
      const { sincePreviousMs } = await heartbeat(options.store, options.instance);
      if (sincePreviousMs === null || sincePreviousMs > options.ownerSilentMs) {
        options.log(
          `tollgate: heartbeat resumed after ${sincePreviousMs === null ? 'a deregistration' : `${Math.round(sincePreviousMs)} ms`}`,
        );
        steadySince = clock();
        await options.onResumed?.();
      }
      const judging = clock() - steadySince >= options.ownerSilentMs;
      const swept = await sweep(options.store, {
        olderThanMs: options.olderThanMs,
        ownerSilentMs: judging ? options.ownerSilentMs : undefined,
        pruneRateWindows: false,
      });
      if (swept > 0) options.log(`tollgate: swept ${swept} request(s) of stopped instances as incomplete`);
      if (judging) {
        const released = await releaseLeases(options.store, { silentMs: options.ownerSilentMs });
        if (released > 0) options.log(`tollgate: released ${released} budget lease(s) of stopped instances`);
      }
      await options.afterBeat?.(async (ids) => (judging ? liveInstances(options.store, ids, options.ownerSilentMs) : new Set(ids)));
    },
    options.heartbeatMs,
    (error) => options.log(`tollgate: heartbeat failed (${describeError(error)})`),
  );
}
