import { LedgerUnavailableError } from '../ledger/errors';
import type { Admission, AdmitResult, Settlement } from '../ledger/types';
import { formatUsd } from '../pricing';
import { FailOpenAllowance } from './fail-open-allowance';
import type { FailOpenJournal } from './journal';
import type { Commit } from './ledger';
import { type EpochLedger, PassThroughLedger } from './pass-through';

export type { EpochLedger } from './pass-through';

/**
 * Fail-open as one decorator around the ledger (installed by the Node entry only). While the
 * database is unreachable, a `failOpen` key's request is admitted within the budget this
 * instance last saw for the key (never past a known limit); its settlement is then written whole
 * when the database returns (store/record.ts), with its cost added to its window. Everything
 * else passes through. With a journal, a fail-open request is on disk before it goes upstream
 * and until the database has its row (see journal.ts): a restart in between loses no bill.
 *
 * @example
 * const inner = createLedger(store, { onCommit: (commit) => failOpen.committed(commit) });
 * const failOpen = new FailOpenLedger(inner, { log });
 */
export class FailOpenLedger extends PassThroughLedger {
  readonly #log: (line: string) => void;
  readonly #journal: FailOpenJournal | null;
  readonly #allowance = new FailOpenAllowance();
  /** Admitted fail-open and not yet settled, by key and request id. */
  readonly #unsettled = new Map<string, Admission>();
  #admitted = 0;

  constructor(inner: EpochLedger, options: { log?: (line: string) => void; journal?: FailOpenJournal | null } = {}) {
    super(inner);
    this.#log = options.log ?? ((line) => console.error(line));
    this.#journal = options.journal ?? null;
  }

  /** Requests admitted fail-open since start (a metric). */
  get failOpenAdmitted(): number {
    return this.#admitted;
  }

  override async admit(admission: Admission): Promise<AdmitResult> {
    const epoch = this.inner.epoch;
    try {
      const result = await this.inner.admit(admission);
      this.#allowance.observe(admission, result, epoch);
      return result;
    } catch (error) {
      if (!(error instanceof LedgerUnavailableError) || !admission.failOpen) throw error;
      const decision = this.#allowance.grant(admission, admission.failOpen.budgeted);
      if (!decision.admitted) {
        if (decision.reason === 'over_budget') {
          throw new LedgerUnavailableError("ledger unavailable, and this key's last known budget does not cover this request", {
            cause: error,
            ambiguous: error.ambiguous,
          });
        }
        throw error;
      }
      if (this.#journal) {
        try {
          await this.#journal.admitted(admission, decision.price, decision.reservedCost);
        } catch (journalError) {
          // Served but possibly never billed is what the journal is for: without it, fail closed.
          this.#allowance.revoke(admission.keyId, admission.requestId);
          this.#log(`tollgate: not admitting ${admission.requestId} fail-open: the journal cannot be written (${String(journalError)})`);
          throw error;
        }
      }
      this.#unsettled.set(idOf(admission), admission);
      this.#admitted++;
      this.#log(
        `tollgate: admitted ${admission.requestId} of ${admission.keyId} fail-open (ledger unavailable; ${admission.routedModel}, ` +
          `worst case $${formatUsd(decision.reservedCost)}); its row is written when the database returns`,
      );
      return { admitted: true, price: decision.price, reservedCost: decision.reservedCost, budget: null, failOpen: true };
    }
  }

  override settle(settlement: Settlement): void {
    const admission = this.#unsettled.get(idOf(settlement));
    if (admission) {
      this.#unsettled.delete(idOf(settlement));
      this.#allowance.settled(admission.keyId, settlement.requestId, {
        cost: settlement.billedCost,
        tokens: settlement.promptTokens + settlement.completionTokens,
      });
      this.#journal
        ?.settled(settlement)
        .catch((error: unknown) => this.#log(`tollgate: could not journal the settlement of ${settlement.requestId}: ${String(error)}`));
    }
    this.inner.settle(settlement);
  }

  /** Final rows recovered from a journal (this instance's predecessors'): written like any other, at most once. */
  replay(settlements: readonly Settlement[]): void {
    for (const settlement of settlements) this.inner.settle(settlement);
  }

  /** The inner ledger committed a batch (wire it as its `onCommit`): fail-open amounts in it are now in the database. */
  committed(commit: Commit): void {
    const written = commit.settlements.filter((settlement) => settlement.row?.admittedFailOpen);
    this.#journal?.written(written);
    this.#allowance.written(
      written.map((settlement) => ({ keyId: settlement.keyId, requestId: settlement.requestId })),
      commit.epoch,
    );
  }
}

const idOf = (row: { keyId: string; requestId: string }) => `${row.keyId}\u0000${row.requestId}`;
