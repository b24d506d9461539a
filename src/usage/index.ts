export type * from './types';
export { createLedger, StoreLedger, type LedgerOptions } from './ledger';
export { FailOpenAllowance } from './fail-open';
export { sweep, startSweeper, type SweepOptions, type Sweeper } from './sweeper';
export { LedgerUnavailableError, isTransient, isUnavailable, describeError, rootCause } from './errors';
