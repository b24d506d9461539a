export { createLedger, StoreLedger, type Commit, type LedgerOptions } from './ledger';
export { FailOpenLedger, type EpochLedger } from './fail-open';
export { FailOpenAllowance, type FailOpenDecision } from './fail-open-allowance';
export { sweep, startSweeper, startInterval, type SweepOptions, type Sweeper } from './sweeper';
export { maintenance, type MaintenanceOptions } from './maintenance';
