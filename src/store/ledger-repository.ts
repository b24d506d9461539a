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
    record: ({
      settlements,
      rejections,
    }: {
      settlements: readonly Settlement[];
      rejections: readonly Rejection[];
    }): Promise<RecordOutcome> => store.transaction((tx) => recordFinalRows(tx, settlements, rejections)),
    meterRate: (key: RowKey) => meterRate(store, key),
    isUnavailable,
    isPermanent,
    isDuplicateRequestId: isUniqueViolation,
  };
}
