// The Prometheus instruments (prom-client) are Node only: the Workers build imports
// ledger-tap.ts and request-log.ts directly, never this index.
export { COUNTED_PATHS, type MetricsEndpoint } from './endpoint';
export { Instruments, type MetricSources, outcomeOf } from './instruments';
export { type LedgerTap, tapLedger } from './ledger-tap';
export { RequestLog } from './request-log';
