import type { Admission, LedgerRepository, RecordOutcome, Rejection, RowKey, Settlement } from '../ledger/types';
import { admitRequest, meterRate } from './admission';
import type { Store } from './db';
import { isPermanent, isUnavailable, isUniqueViolation } from './errors';
import { recordFinalRows } from './record';

/** The ledger's statements on a store; the usage room's writer and admission call these. */
export function ledgerRepository(store: Store): LedgerRepository {
  return {
    kind: store.kind,
    admit: (admission: Admission, options) => admitRequest(store, admission, options),
    // One statement, so one round trip and its own transaction: the window row is locked from its
    // update to the statement's commit, no longer.
    record: (
      { settlements, rejections }: { settlements: readonly Settlement[]; rejections: readonly Rejection[] },
      options: { durable: boolean },
    ): Promise<RecordOutcome> => recordFinalRows(store, settlements, rejections, options),
    meterRate: (key: RowKey) => meterRate(store, key),
    isUnavailable,
    isPermanent,
    isDuplicateRequestId: isUniqueViolation,
  };
}
