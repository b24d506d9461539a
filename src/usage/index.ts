export { type EpochLedger, FailOpenLedger } from './fail-open';
export { FailOpenAllowance, type FailOpenDecision } from './fail-open-allowance';
export { LeasedLedger, type LeaseOptions } from './leases';
export { type Commit, createLedger, type LedgerOptions, StoreLedger } from './ledger';
export { type LivenessOptions, startLiveness } from './liveness';
export { type MaintenanceOptions, maintenance } from './maintenance';
export { type Sweeper, type SweepOptions, startInterval, startSweeper, sweep } from './sweeper';
