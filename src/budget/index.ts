export { BUDGET_PERIODS, TOTAL_WINDOW, type BudgetPeriod } from './periods';
export { reservationFor, pastSoftThreshold } from './reservation';
export { failOpenFits, type Amount, type Remaining } from './fail-open';
