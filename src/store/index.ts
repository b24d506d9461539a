export { getAdminSecretHash, initAdminSecretHash, OPERATOR_SECRET, setAdminSecretHash } from './admin-secrets';
export { type AdmitOptions, admitRequest, meterRate, monthOf, PriceMissingError } from './admission';
export { type BudgetRecord, type BudgetSettings, type BudgetStatus, budgetStatus, clearBudget, getBudget, setBudget } from './budgets';
export type { Db, Executor, Store } from './db';
export { DeadlineError, describeError, isPermanent, isUnavailable, isUniqueViolation, rootCause } from './errors';
export { databaseNow, heartbeat, type InstanceInfo, pruneInstances, registerInstance, stopInstance } from './instances';
export {
  createKey,
  findKeyByHash,
  getKey,
  isKeyLive,
  type KeyRecord,
  listKeys,
  type NewKey,
  revokeKey,
  rotateKey,
  updateKey,
  updateKeyOptions,
} from './keys';
export { ledgerRepository } from './ledger-repository';
export { type Migration, MigrationError, migrate } from './migrate';
export { migrations } from './migrations.generated';
export { DEFAULT_DATA_DIR, type OpenStoreOptions, openStore } from './open';
export { ensureUsagePartitions } from './partitions';
export { addPriceVersion, type ConfiguredPrices, currentPrice, EPOCH, listPriceVersions, seedPricesFromConfig } from './prices';
export { recordFinalRows } from './record';
export { findRequests, getRequest, type RequestView } from './requests';
export * as schema from './schema';
export { ALERT_KINDS, type AlertKind, type KeyOptions } from './schema';
export { pruneRateWindows, type SweepCutoffs, sweepPendingRequests } from './sweep';
export { budgetWindowAt, isKnownTimeZone, type WindowRef, windowBounds } from './windows';
