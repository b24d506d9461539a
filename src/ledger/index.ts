export * from './statuses';
export type * from './types';
export { decideBill, type Bill, type Caps, type Evidence } from './bill';
export { Meter, type Charge, type MeterOutcome, type MeterPlan, type MeterStart } from './meter';
export { DuplicateRequestIdError, LedgerUnavailableError } from './errors';
