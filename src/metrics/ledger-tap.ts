import type { Admission, AdmitResult, Ledger, RateResult, Rejection, RowKey, Settlement } from '../ledger/types';

/**
 * Watches the ledger's traffic: every request's final word passes through `settle` or `reject`
 * (the meter writes nothing else), so counting there agrees with the ledger by construction.
 */
export interface LedgerTap {
  /** An admission round trip ended after `ms` (admitted or refused). */
  admitted?(ms: number, result: AdmitResult): void;
  settled(settlement: Settlement): void;
  rejected(rejection: Rejection): void;
}

/**
 * The ledger with taps on it: metrics and the per-request log line, as one decorator, so
 * neither the meter nor the routes know they exist. No taps: the ledger itself.
 *
 * @example
 * deps.ledger = tapLedger(ledger, [instruments, new RequestLog(log)], () => performance.now());
 */
export function tapLedger(inner: Ledger, taps: readonly LedgerTap[], clock: () => number): Ledger {
  if (taps.length === 0) return inner;
  return new TappedLedger(inner, taps, clock);
}

class TappedLedger implements Ledger {
  constructor(
    private readonly inner: Ledger,
    private readonly taps: readonly LedgerTap[],
    private readonly clock: () => number,
  ) {}

  async admit(admission: Admission): Promise<AdmitResult> {
    const started = this.clock();
    const result = await this.inner.admit(admission);
    const ms = this.clock() - started;
    for (const tap of this.taps) tap.admitted?.(ms, result);
    return result;
  }

  settle(settlement: Settlement): void {
    this.inner.settle(settlement);
    for (const tap of this.taps) tap.settled(settlement);
  }

  reject(rejection: Rejection): void {
    this.inner.reject(rejection);
    for (const tap of this.taps) tap.rejected(rejection);
  }

  meterRate(key: RowKey): Promise<RateResult> {
    return this.inner.meterRate(key);
  }

  flush(timeoutMs?: number): Promise<void> {
    return this.inner.flush(timeoutMs);
  }

  get waiting(): number {
    return this.inner.waiting;
  }
}
