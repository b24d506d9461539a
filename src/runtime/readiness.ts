import type { Executor } from '../store/db';
import { withDeadline } from '../store/errors';
import { databaseState } from '../store/readiness';

export type ReadinessReport =
  | { ready: true }
  | { ready: false; reason: 'draining' | 'database_unreachable' | 'migrations_pending'; message: string };

export interface ReadinessOptions {
  store: Executor;
  /** Migration tags the database must have applied (default: none checked). */
  migrations?: readonly string[];
  /** How long the database may take to answer the probe (default 1 s). */
  timeoutMs?: number;
}

/**
 * What `/readyz` answers: ready while the database answers the probe within a short deadline
 * with this gateway's migrations applied, and the process is not draining. Probes running at the
 * same time share one query, so a stalled database does not pile them up.
 *
 * @example
 * const readiness = new Readiness({ store, migrations: migrations.map((m) => m.tag) });
 * process.on('SIGTERM', () => readiness.drain());
 */
export class Readiness {
  readonly #options: ReadinessOptions;
  #draining = false;
  #probe: Promise<ReadinessReport> | null = null;

  constructor(options: ReadinessOptions) {
    this.#options = options;
  }

  /** From now on unready: the process is shutting down. */
  drain(): void {
    this.#draining = true;
  }

  async check(): Promise<ReadinessReport> {
    if (this.#draining) return { ready: false, reason: 'draining', message: 'The gateway is shutting down.' };
    this.#probe ??= this.#run().finally(() => {
      this.#probe = null;
    });
    return this.#probe;
  }

  async #run(): Promise<ReadinessReport> {
    const timeoutMs = this.#options.timeoutMs ?? 1_000;
    try {
      const state = await withDeadline(databaseState(this.#options.store, this.#options.migrations ?? []), timeoutMs);
      if (state === 'ready') return { ready: true };
      return { ready: false, reason: 'migrations_pending', message: "The database does not have this gateway's migrations applied." };
    } catch {
      return { ready: false, reason: 'database_unreachable', message: `The database did not answer within ${timeoutMs} ms.` };
    }
  }
}
