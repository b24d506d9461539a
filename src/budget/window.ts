import type { BudgetWindowRef } from '../usage/types';

export const BUDGET_PERIODS = ['day', 'week', 'month', 'total'] as const;
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];

/** The one window of a `total` budget: from the epoch to the end of year 9999. */
export const TOTAL_WINDOW: BudgetWindowRef = {
  windowStart: new Date(0),
  windowEnd: new Date(Date.UTC(9999, 11, 31, 0, 0, 0)),
};

const DAY_MS = 86_400_000;

interface LocalDate {
  year: number;
  month: number; // 1-12
  day: number;
}

/**
 * The budget window holding `now`: a calendar day, ISO week (from Monday) or month as the clock
 * on the wall reads in `timezone` (IANA), so a window can be 23 or 25 hours long across DST.
 * Throws RangeError for an unknown zone.
 *
 * @example
 * windowFor('day', 'Europe/Berlin', new Date('2026-03-29T12:00:00Z'))
 * // { windowStart: 2026-03-28T23:00:00Z, windowEnd: 2026-03-29T22:00:00Z } (a 23-hour day)
 */
export function windowFor(period: BudgetPeriod, timezone: string, now: Date): BudgetWindowRef {
  if (period === 'total') return { windowStart: TOTAL_WINDOW.windowStart, windowEnd: TOTAL_WINDOW.windowEnd };
  const today = localDateOf(now.getTime(), timezone);
  let first: LocalDate;
  let next: LocalDate;
  if (period === 'day') {
    first = today;
    next = addDays(today, 1);
  } else if (period === 'week') {
    const weekday = (new Date(Date.UTC(today.year, today.month - 1, today.day)).getUTCDay() + 6) % 7; // Monday 0
    first = addDays(today, -weekday);
    next = addDays(first, 7);
  } else {
    first = { year: today.year, month: today.month, day: 1 };
    next = today.month === 12 ? { year: today.year + 1, month: 1, day: 1 } : { year: today.year, month: today.month + 1, day: 1 };
  }
  return { windowStart: new Date(startOfLocalDay(first, timezone)), windowEnd: new Date(startOfLocalDay(next, timezone)) };
}

function addDays(date: LocalDate, days: number): LocalDate {
  const shifted = new Date(Date.UTC(date.year, date.month - 1, date.day) + days * DAY_MS);
  return { year: shifted.getUTCFullYear(), month: shifted.getUTCMonth() + 1, day: shifted.getUTCDate() };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timezone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timezone, formatter);
  }
  return formatter;
}

/** The wall clock in `timezone` at instant `ms`, read as if it were UTC (ms). */
function wallClockMs(ms: number, timezone: string): number {
  const parts: Record<string, number> = {};
  for (const part of formatterFor(timezone).formatToParts(new Date(ms))) {
    if (part.type !== 'literal' && part.type !== 'era') parts[part.type] = Number(part.value);
  }
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!) + (ms % 1000 + 1000) % 1000;
}

function localDateOf(ms: number, timezone: string): LocalDate {
  const wall = new Date(wallClockMs(ms, timezone));
  return { year: wall.getUTCFullYear(), month: wall.getUTCMonth() + 1, day: wall.getUTCDate() };
}

function compareDates(a: LocalDate, b: LocalDate): number {
  return a.year - b.year || a.month - b.month || a.day - b.day;
}

/**
 * The first instant whose local date is `date`. Usually local midnight (wall time minus the
 * offset, re-checked once for a DST change in between); where midnight does not exist (a DST
 * jump at 00:00) the first instant of the day is found by bisection.
 */
function startOfLocalDay(date: LocalDate, timezone: string): number {
  const midnightAsUtc = Date.UTC(date.year, date.month - 1, date.day);
  let guess = midnightAsUtc - (wallClockMs(midnightAsUtc, timezone) - midnightAsUtc);
  guess = midnightAsUtc - (wallClockMs(guess, timezone) - guess);
  if (isFirstInstant(guess, date, timezone)) return guess;
  // Bisect on "local date >= date" between a surely-earlier and a surely-later instant.
  let low = midnightAsUtc - 2 * DAY_MS;
  let high = midnightAsUtc + 2 * DAY_MS;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (compareDates(localDateOf(middle, timezone), date) >= 0) high = middle;
    else low = middle;
  }
  return high;
}

function isFirstInstant(ms: number, date: LocalDate, timezone: string): boolean {
  return compareDates(localDateOf(ms, timezone), date) === 0 && compareDates(localDateOf(ms - 1, timezone), date) < 0;
}
