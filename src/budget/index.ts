export { windowFor, TOTAL_WINDOW, BUDGET_PERIODS, type BudgetPeriod } from './window';
export { reservationFor, pastSoftThreshold } from './reservation';
export { failOpenFits, type Amount, type Remaining } from './fail-open';
