export { type Amount, failOpenFits, type Remaining } from './fail-open';
export { BUDGET_PERIODS, type BudgetPeriod, TOTAL_WINDOW } from './periods';
export { pastSoftThreshold, reservationFor } from './reservation';
