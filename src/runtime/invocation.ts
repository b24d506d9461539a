import { AsyncLocalStorage } from 'node:async_hooks';
import type { AdmitResult, Ledger } from '../ledger';
import type { Store } from '../store/db';

/**
 * What one Workers invocation owns. A Postgres socket opened in one request cannot be used by
 * another ("Cannot perform I/O on behalf of a different request"), so each invocation opens its
 * own store, queues its own ledger rows on it, and closes it in `waitUntil` once they are written.
 */
export class Invocation {
  #unsettled = 0;
  #idle: (() => void)[] = [];
  readonly #background = new Set<Promise<unknown>>();

  constructor(
    readonly store: Store,
    /** A ledger on `store`: settles queue, `flush` writes them. */
    readonly ledger: Ledger,
    /** The runtime's own `ctx.waitUntil`. */
    private readonly keepAlive: (work: Promise<unknown>) => void,
  ) {}

  admitted(): void {
    this.#unsettled++;
  }

  settled(): void {
    this.#unsettled--;
    if (this.#unsettled === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** Background work of this invocation (e.g. a budget alert and its webhook): it may use the store, so `finish` waits for it. */
  waitUntil(work: Promise<unknown>): void {
    const tracked: Promise<unknown> = work.catch(() => {}).finally(() => this.#background.delete(tracked));
    this.#background.add(tracked);
    this.keepAlive(tracked);
  }

  /**
   * After the response: waits until every admitted request has settled (a stream settles when it
   * ends or its client goes), writes the queued rows, lets background work end, and closes the
   * store. Billing rows go first: the runtime stops waiting about 30 s after the response.
   */
  async finish(flushTimeoutMs = 10_000): Promise<void> {
    if (this.#unsettled > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
    await this.ledger.flush(flushTimeoutMs).catch(() => {});
    while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
    await this.ledger.flush(flushTimeoutMs).catch(() => {});
    await this.store.close().catch(() => {});
  }
}

/**
 * The seam between the runtime-agnostic gateway and per-invocation resources: `store` and
 * `ledger` stand for "the current invocation's", so `buildDeps` and `createApp` run once per
 * isolate (config, prices, operator token, key cache) while connections stay per request.
 * The request path finds its invocation through AsyncLocalStorage; a settle, which may come
 * from a stream callback after the handler returned, finds it by the request id it admitted.
 *
 * @example
 * const scope = new InvocationScope();
 * const deps = await buildDeps({ config, store: scope.store, ledger: scope.ledger, … });
 * return scope.run(new Invocation(store, ledger, ctx.waitUntil.bind(ctx)), () => app.fetch(request));
 */
export class InvocationScope {
  readonly #current = new AsyncLocalStorage<Invocation>();
  readonly #admittedBy = new Map<string, Invocation>();
  readonly store: Store;
  readonly ledger: Ledger;

  constructor() {
    const current = () => this.current();
    this.store = {
      kind: 'postgres',
      get db() {
        return current().store.db;
      },
      rows: (query) => current().store.rows(query),
      query: (text, params) => current().store.query(text, params),
      transaction: (body, options) => current().store.transaction(body, options),
      close: async () => {}, // each invocation closes its own
    };
    const admittedBy = this.#admittedBy;
    const active = this.#current;
    this.ledger = {
      async admit(admission): Promise<AdmitResult> {
        const invocation = current();
        const result = await invocation.ledger.admit(admission);
        if (result.admitted) {
          admittedBy.set(idOf(admission), invocation);
          invocation.admitted();
        }
        return result;
      },
      settle(settlement) {
        const invocation = admittedBy.get(idOf(settlement));
        if (!invocation) {
          // Not admitted through this scope: queue it on the current invocation if there is one
          // (the write is a no-op unless the row is pending). Settle never throws.
          active.getStore()?.ledger.settle(settlement);
          return;
        }
        admittedBy.delete(idOf(settlement));
        invocation.ledger.settle(settlement);
        invocation.settled();
      },
      reject: (rejection) => current().ledger.reject(rejection),
      meterRate: (key) => current().ledger.meterRate(key),
      flush: (timeoutMs) => current().ledger.flush(timeoutMs),
      get waiting() {
        return active.getStore()?.ledger.waiting ?? 0;
      },
    };
  }

  /** Runs `body` (one request's handling) with `invocation` as the current one. */
  run<T>(invocation: Invocation, body: () => T): T {
    return this.#current.run(invocation, body);
  }

  current(): Invocation {
    const invocation = this.#current.getStore();
    if (!invocation) throw new Error('tollgate: the database was used outside a request');
    return invocation;
  }

  /** Background work of the current invocation (Workers' `ctx.waitUntil`); outside one it just runs. */
  waitUntil(work: Promise<unknown>): void {
    this.#current.getStore()?.waitUntil(work);
  }
}

const idOf = (row: { keyId: string; requestId: string }) => `${row.keyId}\u0000${row.requestId}`;
