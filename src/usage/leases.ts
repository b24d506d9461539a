import type { LeasedWindow } from '../budget/lease';
import { reservationFor } from '../budget/reservation';
import { LedgerUnavailableError } from '../ledger/errors';
import type { Admission, AdmitResult, BudgetState, Settlement } from '../ledger/types';
import type { Money, Price } from '../pricing';
import { DeadlineError, describeError, type Store } from '../store';
import { PriceMissingError } from '../store/admission';
import { isUnavailable, mayHaveCommitted, withDeadline } from '../store/errors';
import { grantLease, type LeasedKey, releaseLeases, returnLease } from '../store/leases';
import { type EpochLedger, PassThroughLedger } from './pass-through';

export interface LeaseOptions {
  store: Store;
  /** The instance the leases belong to (its heartbeat keeps them; see usage/liveness.ts). */
  instanceId: string;
  /**
   * How long what a grant read (the key, its scopes and models, the price, the window) is used
   * without reading it again: a revocation, a budget change or a new price binds this instance
   * within it. An expired lease's unused part goes back at the next idle check.
   */
  leaseMs: number;
  /** Deadline of a grant, like an admission's (default 5 s). */
  timeoutMs?: number;
  log?: (line: string) => void;
  /** Monotonic milliseconds (default performance.now). */
  clock?: () => number;
}

/** One key's lease on this instance, as this instance accounts for it. */
interface Lease {
  keyId: string;
  key: LeasedKey;
  /** Null: the key has no budget (nothing is leased; the grant only read the key). */
  window: LeasedWindow | null;
  prices: Map<string, { price: Price; untilMs: number | null }>;
  /** Clock time after which the grant's reading is stale. */
  validUntil: number;
  /** What the lease row will hold once this instance's queued final rows are written. */
  heldCost: Money;
  heldTokens: number;
  /** Reserved by requests admitted against it and not yet settled. */
  inFlightCost: Money;
  inFlightTokens: number;
  /** `held` when the window was last read, for budget states between grants. */
  seenHeldCost: Money;
  seenHeldTokens: number;
  /** Admitted since the last grant, and since when: the demand the next grant is sized for. */
  demandCost: Money;
  demandTokens: number;
  demandSince: number;
}

type Local = AdmitResult | 'stale' | 'short' | 'database';

/**
 * Budget leases around the ledger (opt-in: TOLLGATE_LEASE_MS). Instead of a round trip per
 * request, this instance takes a slice of a key's window into its lease (one transaction, under
 * the window's limit, counted in its `reserved`) and admits requests against it in memory; their
 * final rows spend it down as they are written. `spent + reserved <= limit` holds at every
 * instant across instances, as without leases; what changes is durability: a request admitted
 * against a lease has no pending row, so a killed instance leaves no row for its requests in
 * flight and for final rows not yet written (its lease is released by the others' liveness loop,
 * never billed). README: "Budget leases".
 *
 * Requests a lease cannot serve go to the inner ledger's admission: a client-chosen request id
 * (only the database knows the key's ids), a key with rpm/tpm limits, fail-open admissions.
 */
export class LeasedLedger extends PassThroughLedger {
  readonly #store: Store;
  readonly #instanceId: string;
  readonly #leaseMs: number;
  readonly #timeoutMs: number;
  readonly #log: (line: string) => void;
  readonly #clock: () => number;
  /** The current lease of each key; leases of ended windows wait in `#retired` for their requests. */
  readonly #leases = new Map<string, Lease>();
  readonly #retired = new Set<Lease>();
  /** One grant (or return) at a time per key. */
  readonly #busy = new Map<string, Promise<unknown>>();
  /** Admitted against a lease, not yet settled. */
  readonly #admitted = new Map<string, { lease: Lease; cost: Money; tokens: number }>();
  #timer: ReturnType<typeof setInterval> | null = null;
  #tidying: Promise<void> | null = null;

  constructor(inner: EpochLedger, options: LeaseOptions) {
    super(inner);
    this.#store = options.store;
    this.#instanceId = options.instanceId;
    this.#leaseMs = options.leaseMs;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#log = options.log ?? ((line) => console.error(line));
    this.#clock = options.clock ?? (() => performance.now());
    this.#timer = setInterval(() => void this.tidy(), Math.max(10, Math.floor(this.#leaseMs / 2)));
    (this.#timer as { unref?: () => void }).unref?.();
  }

  override async admit(a: Admission): Promise<AdmitResult> {
    if (a.clientRequestId) return this.inner.admit(a);
    let grants = 0;
    for (;;) {
      const lease = this.#leases.get(a.keyId);
      const local = lease ? this.#admitLocally(lease, a) : 'stale';
      if (local === 'database') return this.inner.admit(a);
      if (local !== 'stale' && local !== 'short') return local;
      const busy = this.#busy.get(a.keyId);
      if (busy) {
        await busy.catch(() => {});
        continue;
      }
      // Two grants for one request: another request took the first one's slice meanwhile. Then
      // this one goes to the database like an unleased one, rather than wait on others' demand.
      if (grants++ === 2) return this.inner.admit(a);
      const grant = this.#grant(a, lease);
      this.#busy.set(a.keyId, grant);
      try {
        const refused = await grant;
        if (refused) return refused;
      } finally {
        this.#busy.delete(a.keyId);
      }
    }
  }

  override settle(settlement: Settlement): void {
    const id = idOf(settlement);
    const admitted = this.#admitted.get(id);
    if (!admitted) {
      this.inner.settle(settlement);
      return;
    }
    this.#admitted.delete(id);
    const { lease, cost, tokens } = admitted;
    lease.inFlightCost -= cost;
    lease.inFlightTokens -= tokens;
    if (!lease.window) {
      this.inner.settle(settlement);
      return;
    }
    // Never more than was reserved (bill.ts never bills more; a lease must not go below zero).
    const spentCost = min(settlement.billedCost, cost);
    const spentTokens = Math.min(settlement.promptTokens + settlement.completionTokens, tokens);
    lease.heldCost -= spentCost;
    lease.heldTokens -= spentTokens;
    this.inner.settle({
      ...settlement,
      lease: {
        instanceId: this.#instanceId,
        windowStart: lease.window.windowStart,
        windowEnd: lease.window.windowEnd,
        cost: spentCost,
        tokens: spentTokens,
      },
    });
  }

  /**
   * Gives back the unused part of every lease whose reading expired, and forgets leases with
   * nothing left in them. Runs on a timer; tests call it to skip the wait.
   */
  tidy(): Promise<void> {
    this.#tidying ??= this.#tidy().finally(() => {
      this.#tidying = null;
    });
    return this.#tidying;
  }

  /**
   * The clean stop: writes what is queued, then releases this instance's leases whole (after its
   * last final rows, nothing will spend them). Admissions after this go to the database.
   */
  async close(timeoutMs = 10_000): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.inner.flush(timeoutMs);
    this.#leases.clear();
    this.#retired.clear();
    await withDeadline(releaseLeases(this.#store, { instanceId: this.#instanceId }), this.#timeoutMs).catch((error: unknown) =>
      this.#log(`tollgate: could not release this instance's budget leases (${describeError(error)}); the others' liveness loop will`),
    );
  }

  /**
   * This instance was silent long enough to be judged gone (its heartbeat resumed after a gap):
   * the others may have released its leases. It forgets them and releases what is left, so a
   * lease is never spent twice; requests in flight are then written in full, like unleased rows.
   */
  async forget(): Promise<void> {
    this.#leases.clear();
    this.#retired.clear();
    for (const admitted of this.#admitted.values()) admitted.lease.window = null;
    await releaseLeases(this.#store, { instanceId: this.#instanceId });
  }

  #admitLocally(lease: Lease, a: Admission): Local {
    if (this.#clock() >= lease.validUntil) return 'stale';
    if (lease.key.rateLimited) return 'database';
    if (!lease.key.scopes.includes('proxy') || (lease.key.allowedModels !== null && !lease.key.allowedModels.includes(a.requestedModel)))
      return { admitted: false, reason: 'not_permitted' };
    const priced = lease.prices.get(a.routedModel);
    if (!priced || (priced.untilMs !== null && a.startedAt.getTime() >= priced.untilMs)) return 'stale';
    const { price } = priced;
    const worst = reservationFor(price, a.promptTokens, a.maxCompletionTokens);
    const window = lease.window;
    if (window) {
      const at = a.startedAt.getTime();
      if (at < window.windowStart.getTime() || at >= window.windowEnd.getTime()) return 'stale';
      if (worst.cost > lease.heldCost - lease.inFlightCost || worst.tokens > lease.heldTokens - lease.inFlightTokens) return 'short';
    }
    lease.inFlightCost += worst.cost;
    lease.inFlightTokens += worst.tokens;
    lease.demandCost += worst.cost;
    lease.demandTokens += worst.tokens;
    this.#admitted.set(idOf(a), { lease, cost: worst.cost, tokens: worst.tokens });
    return { admitted: true, price, reservedCost: worst.cost, budget: window ? budgetState(lease, window) : null };
  }

  /** A grant for `a`'s key: null when it is done (try again locally), else the refusal to answer. */
  async #grant(a: Admission, current: Lease | undefined): Promise<AdmitResult | null> {
    const now = this.#clock();
    let grant: Awaited<ReturnType<typeof grantLease>>;
    try {
      grant = await withDeadline(
        grantLease(
          this.#store,
          { keyId: a.keyId, instanceId: this.#instanceId, model: a.routedModel, at: a.startedAt },
          ({ price, window }) => {
            const worst = reservationFor(price, a.promptTokens, a.maxCompletionTokens);
            const same = current?.window?.windowStart.getTime() === window.windowStart.getTime();
            const freeCost = same ? current!.heldCost - current!.inFlightCost : 0n;
            const freeTokens = same ? current!.heldTokens - current!.inFlightTokens : 0;
            // Enough for what this key admitted here over the last lease period, and at least 16 of this request.
            const elapsed = Math.max(1, now - (current?.demandSince ?? now));
            const period = Math.max(1, this.#leaseMs);
            const demandCost = current ? (current.demandCost * BigInt(period)) / BigInt(Math.ceil(elapsed)) : 0n;
            const demandTokens = current ? Math.ceil((current.demandTokens * period) / elapsed) : 0;
            const wantCost = max(worst.cost * 16n, demandCost) - freeCost;
            const wantTokens = Math.max(worst.tokens * 16, demandTokens) - freeTokens;
            return {
              minCost: max(0n, worst.cost - freeCost),
              minTokens: Math.max(0, worst.tokens - freeTokens),
              wantCost: max(0n, wantCost),
              wantTokens: Math.max(0, wantTokens),
            };
          },
        ),
        this.#timeoutMs,
      );
    } catch (error) {
      if (error instanceof DeadlineError || isUnavailable(error))
        throw new LedgerUnavailableError(`ledger unavailable: budget lease: ${describeError(error)}`, {
          cause: error,
          // A grant that committed late only leaves budget in this instance's lease row: released at its stop.
          ambiguous: error instanceof DeadlineError || mayHaveCommitted(error),
        });
      throw error;
    }
    if (!grant.found) {
      this.#retire(a.keyId);
      return { admitted: false, reason: 'key_revoked' };
    }
    if (!grant.price) throw new PriceMissingError(a.routedModel, a.startedAt);
    const validUntil = this.#clock() + this.#leaseMs;
    const sameWindow = current !== undefined && sameWindowOf(current.window, grant.window);
    const lease: Lease = sameWindow
      ? current
      : {
          keyId: a.keyId,
          key: grant.key,
          window: grant.window,
          prices: new Map(),
          validUntil,
          heldCost: 0n,
          heldTokens: 0,
          inFlightCost: 0n,
          inFlightTokens: 0,
          seenHeldCost: 0n,
          seenHeldTokens: 0,
          demandCost: 0n,
          demandTokens: 0,
          demandSince: now,
        };
    if (!sameWindow) this.#retire(a.keyId);
    lease.key = grant.key;
    lease.validUntil = validUntil;
    lease.prices.set(a.routedModel, { price: grant.price, untilMs: grant.priceUntilMs });
    lease.demandCost = 0n;
    lease.demandTokens = 0;
    lease.demandSince = now;
    if (grant.window) {
      lease.window = grant.window;
      if (grant.granted) {
        lease.heldCost += grant.granted.cost;
        lease.heldTokens += grant.granted.tokens;
      }
      lease.seenHeldCost = lease.heldCost;
      lease.seenHeldTokens = lease.heldTokens;
    }
    this.#leases.set(a.keyId, lease);
    if (!grant.window || grant.granted) return null;
    // The window cannot hold this request even with this instance's unused lease counted in.
    const worst = reservationFor(grant.price, a.promptTokens, a.maxCompletionTokens);
    return {
      admitted: false,
      reason: 'insufficient_quota',
      price: grant.price,
      reservedCost: worst.cost,
      budget: budgetState(lease, grant.window),
    };
  }

  #retire(keyId: string): void {
    const old = this.#leases.get(keyId);
    if (!old) return;
    this.#leases.delete(keyId);
    if (old.window) this.#retired.add(old);
  }

  *#all(): Iterable<Lease> {
    yield* this.#leases.values();
    yield* this.#retired;
  }

  async #tidy(): Promise<void> {
    const now = this.#clock();
    for (const lease of [...this.#all()]) {
      const retired = this.#retired.has(lease);
      if (!retired && now < lease.validUntil) continue;
      if (this.#busy.has(lease.keyId)) continue;
      const window = lease.window;
      const cost = lease.heldCost - lease.inFlightCost;
      const tokens = lease.heldTokens - lease.inFlightTokens;
      if (window && (cost > 0n || tokens > 0)) {
        const giving = withDeadline(
          returnLease(this.#store, { keyId: lease.keyId, windowStart: window.windowStart, instanceId: this.#instanceId, cost, tokens }),
          this.#timeoutMs,
        );
        this.#busy.set(lease.keyId, giving);
        try {
          await giving;
          lease.heldCost -= cost;
          lease.heldTokens -= tokens;
        } catch (error) {
          this.#log(`tollgate: could not return an unused budget lease of ${lease.keyId} (${describeError(error)}); will retry`);
          continue;
        } finally {
          this.#busy.delete(lease.keyId);
        }
      }
      if (lease.inFlightCost === 0n && lease.inFlightTokens === 0 && (retired || this.#leases.get(lease.keyId) === lease)) {
        if (retired) this.#retired.delete(lease);
        else if (this.#clock() >= lease.validUntil) this.#leases.delete(lease.keyId);
      }
    }
  }
}

/**
 * The window as admission reports it, from the grant's reading and this instance's accounting
 * since: its unused lease is left out of `reserved` and in `remaining`. Other instances' changes
 * since the grant are not seen (at most one lease period old).
 */
function budgetState(lease: Lease, window: LeasedWindow): BudgetState {
  const spentCost = window.spentCost + (lease.seenHeldCost - lease.heldCost);
  const spentTokens = window.spentTokens + (lease.seenHeldTokens - lease.heldTokens);
  const reservedCost = window.reservedCost - lease.seenHeldCost + lease.inFlightCost;
  const reservedTokens = window.reservedTokens - lease.seenHeldTokens + lease.inFlightTokens;
  return {
    windowStart: window.windowStart,
    softThresholdPct: window.softThresholdPct,
    limitCost: window.limitCost,
    limitTokens: window.limitTokens,
    spentCost,
    reservedCost,
    spentTokens,
    reservedTokens,
    remainingCost: window.limitCost === null ? null : window.limitCost - spentCost - reservedCost,
    remainingTokens: window.limitTokens === null ? null : window.limitTokens - spentTokens - reservedTokens,
  };
}

function sameWindowOf(a: LeasedWindow | null, b: LeasedWindow | null): boolean {
  if (a === null || b === null) return a === b;
  return a.windowStart.getTime() === b.windowStart.getTime();
}

const max = (a: bigint, b: bigint) => (a > b ? a : b);
const min = (a: bigint, b: bigint) => (a < b ? a : b);
const idOf = (row: { keyId: string; requestId: string }) => `${row.keyId}\u0000${row.requestId}`;
