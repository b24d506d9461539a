export type { Db, Executor, Store } from './db';
export { openStore, DEFAULT_DATA_DIR, type OpenStoreOptions } from './open';
export { migrate, MigrationError, type Migration } from './migrate';
export { migrations } from './migrations.generated';
export * as schema from './schema';
export { type KeyOptions, type AlertKind, ALERT_KINDS } from './schema';
export {
  createKey,
  findKeyByHash,
  getKey,
  listKeys,
  isKeyLive,
  revokeKey,
  rotateKey,
  updateKey,
  updateKeyOptions,
  type KeyRecord,
  type NewKey,
} from './keys';
export { getAdminSecretHash, setAdminSecretHash, initAdminSecretHash, OPERATOR_SECRET } from './admin-secrets';
export { seedPricesFromConfig, addPriceVersion, currentPrice, listPriceVersions, EPOCH, type ConfiguredPrices } from './prices';
export { setBudget, getBudget, clearBudget, budgetStatus, type BudgetRecord, type BudgetSettings, type BudgetStatus } from './budgets';
export { budgetWindowAt, isKnownTimeZone, windowBounds, type WindowRef } from './windows';
export { findRequests, getRequest, type RequestView } from './requests';
export { admitRequest, meterRate, monthOf, PriceMissingError, type AdmitOptions } from './admission';
export { recordFinalRows } from './record';
export { sweepPendingRequests, pruneRateWindows, type SweepCutoffs } from './sweep';
export { ensureUsagePartitions } from './partitions';
export { registerInstance, heartbeat, stopInstance, databaseNow, pruneInstances, type InstanceInfo } from './instances';
export { ledgerRepository } from './ledger-repository';
export { describeError, isPermanent, isUnavailable, isUniqueViolation, DeadlineError, rootCause } from './errors';
