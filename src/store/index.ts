export type { Db, Executor, Store } from './db';
export { openStore, DEFAULT_DATA_DIR, type OpenStoreOptions } from './open';
export { migrate, MigrationError, type Migration } from './migrate';
export { migrations } from './migrations.generated';
export * as schema from './schema';
export { type KeyOptions, type BudgetPeriod, BUDGET_PERIODS } from './schema';
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
export {
  seedPricesFromConfig,
  addPriceVersion,
  currentPrice,
  listPriceVersions,
  getPriceVersion,
  EPOCH,
  type ConfiguredPrices,
} from './prices';
export {
  setBudget,
  getBudget,
  clearBudget,
  getBudgetWindow,
  listBudgetWindows,
  type BudgetRecord,
  type BudgetSettings,
  type BudgetWindowRecord,
} from './budgets';
export { getRequest, type RequestView } from './requests';
export { admitRequest, PriceMissingError, type AdmitOptions } from './admission';
export { settleRequests, recordRejections, sweepPendingRequests } from './ledger';
export { recordFailOpenRequests, type FailOpenOutcome } from './fail-open';
