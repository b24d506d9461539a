/**
 * Budget periods. A `day`, `week` (ISO, from Monday) or `month` window starts at midnight on the
 * wall clock of the budget's IANA time zone, so a DST day is 23 or 25 hours; a `total` budget has
 * one window for all time. The rule is computed in one place, in SQL (store/windows.ts), so that
 * admission, the admin view, /v1/estimate and reports can never disagree.
 */
export const BUDGET_PERIODS = ['day', 'week', 'month', 'total'] as const;
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];

/** The one window of a `total` budget: from the epoch to the end of year 9999. */
export const TOTAL_WINDOW = {
  windowStart: new Date(0),
  windowEnd: new Date(Date.UTC(9999, 11, 31, 0, 0, 0)),
} as const;
