import type { Admission, AdmitResult, Ledger, RateResult, Rejection, RowKey, Settlement } from '../ledger/types';

/** What a decorator needs of the ledger it wraps: its commit count, to order rows written against admissions. */
export interface EpochLedger extends Ledger {
  readonly epoch: number;
}

/**
 * A ledger decorator's base: everything goes to the ledger it wraps until a subclass says
 * otherwise (fail-open.ts, leases.ts).
 */
export abstract class PassThroughLedger implements EpochLedger {
  protected constructor(protected readonly inner: EpochLedger) {}

  get epoch(): number {
    return this.inner.epoch;
  }

  get waiting(): number {
    return this.inner.waiting;
  }

  admit(admission: Admission): Promise<AdmitResult> {
    return this.inner.admit(admission);
  }

  settle(settlement: Settlement): void {
    this.inner.settle(settlement);
  }

  reject(rejection: Rejection): void {
    this.inner.reject(rejection);
  }

  meterRate(key: RowKey): Promise<RateResult> {
    return this.inner.meterRate(key);
  }

  flush(timeoutMs?: number): Promise<void> {
    return this.inner.flush(timeoutMs);
  }
}
