export { type Bill, type Caps, decideBill, type Evidence } from './bill';
export { DuplicateRequestIdError, LedgerUnavailableError } from './errors';
export { type Charge, Meter, type MeterOutcome, type MeterPlan, type MeterStart } from './meter';
export * from './statuses';
export type * from './types';
