import { describe, expect, test } from 'vitest';
import { type BudgetPeriod, TOTAL_WINDOW } from '../../../src/budget';
import { budgetWindowAt, isKnownTimeZone, rootCause, type Store } from '../../../src/store';
import { databases } from '../support/databases';
import { useLedgerStore } from '../support/ledger';

const at = (iso: string) => new Date(iso);

// The budget window rule, computed in one place (SQL, store/windows.ts), on both databases.
describe.each(databases)('budget windows on $name', (database) => {
  let store: Store;
  useLedgerStore(database, (opened) => ({ store } = opened));
  const windowFor = (period: BudgetPeriod, zone: string, now: Date) => budgetWindowAt(store, period, zone, now);

  test.each<[string, BudgetPeriod, string, string, string, string]>([
    // name, period, zone, now, expected start, expected end
    ['a UTC day', 'day', 'UTC', '2026-11-29T10:00:00Z', '2026-11-29T00:00:00.000Z', '2026-11-30T00:00:00.000Z'],
    ['the first instant of a UTC day', 'day', 'UTC', '2026-11-29T00:00:00Z', '2026-11-29T00:00:00.000Z', '2026-11-30T00:00:00.000Z'],
    ['the last millisecond of a UTC day', 'day', 'UTC', '2026-11-29T23:59:59.999Z', '2026-11-29T00:00:00.000Z', '2026-11-30T00:00:00.000Z'],
    [
      'New York evening is the previous UTC day',
      'day',
      'America/New_York',
      '2026-11-29T03:00:00Z',
      '2026-11-28T05:00:00.000Z',
      '2026-11-29T05:00:00.000Z',
    ],
    ['a half-hour zone', 'day', 'Asia/Kolkata', '2026-11-29T20:00:00Z', '2026-11-29T18:30:00.000Z', '2026-11-30T18:30:00.000Z'],
    [
      'Berlin spring-forward day has 23 hours',
      'day',
      'Europe/Berlin',
      '2026-03-29T12:00:00Z',
      '2026-03-28T23:00:00.000Z',
      '2026-03-29T22:00:00.000Z',
    ],
    [
      'Berlin fall-back day has 25 hours',
      'day',
      'Europe/Berlin',
      '2026-10-25T12:00:00Z',
      '2026-10-24T22:00:00.000Z',
      '2026-10-25T23:00:00.000Z',
    ],
    [
      'Santiago skips midnight: the day starts at 01:00',
      'day',
      'America/Santiago',
      '2026-09-06T12:00:00Z',
      '2026-09-06T04:00:00.000Z',
      '2026-09-07T03:00:00.000Z',
    ],
    [
      'the day before Santiago skips midnight ends at the jump',
      'day',
      'America/Santiago',
      '2026-09-05T12:00:00Z',
      '2026-09-05T04:00:00.000Z',
      '2026-09-06T04:00:00.000Z',
    ],
    [
      'an ISO week starts on Monday (Sunday now)',
      'week',
      'UTC',
      '2026-11-29T10:00:00Z',
      '2026-11-23T00:00:00.000Z',
      '2026-11-30T00:00:00.000Z',
    ],
    ['an ISO week starting today (Monday)', 'week', 'UTC', '2026-11-30T00:00:00Z', '2026-11-30T00:00:00.000Z', '2026-12-07T00:00:00.000Z'],
    [
      'Monday in Tokyo is still Sunday in UTC',
      'week',
      'Asia/Tokyo',
      '2026-11-29T16:00:00Z',
      '2026-11-29T15:00:00.000Z',
      '2026-12-06T15:00:00.000Z',
    ],
    ['a week across a year end', 'week', 'UTC', '2027-01-01T12:00:00Z', '2026-12-28T00:00:00.000Z', '2027-01-04T00:00:00.000Z'],
    [
      'a week across Berlin fall-back',
      'week',
      'Europe/Berlin',
      '2026-10-22T12:00:00Z',
      '2026-10-18T22:00:00.000Z',
      '2026-10-25T23:00:00.000Z',
    ],
    ['a UTC month across the year end', 'month', 'UTC', '2026-12-15T00:00:00Z', '2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
    [
      'Los Angeles February, seen on March 1 UTC',
      'month',
      'America/Los_Angeles',
      '2026-03-01T07:00:00Z',
      '2026-02-01T08:00:00.000Z',
      '2026-03-01T08:00:00.000Z',
    ],
    [
      'a Los Angeles month containing spring-forward',
      'month',
      'America/Los_Angeles',
      '2026-03-20T00:00:00Z',
      '2026-03-01T08:00:00.000Z',
      '2026-04-01T07:00:00.000Z',
    ],
    ['a leap February', 'month', 'UTC', '2028-02-29T23:00:00Z', '2028-02-01T00:00:00.000Z', '2028-03-01T00:00:00.000Z'],
  ])('%s', async (_name, period, zone, now, start, end) => {
    const window = await windowFor(period, zone, at(now));
    expect([window.windowStart.toISOString(), window.windowEnd.toISOString()]).toEqual([start, end]);
    expect(window.windowStart.getTime()).toBeLessThanOrEqual(at(now).getTime());
    expect(at(now).getTime()).toBeLessThan(window.windowEnd.getTime());
  });

  test('a total budget has one window for all time, whatever the zone', async () => {
    expect(await windowFor('total', 'Asia/Tokyo', at('2026-11-29T10:00:00Z'))).toEqual(TOTAL_WINDOW);
    expect(TOTAL_WINDOW.windowStart.toISOString()).toBe('1970-01-01T00:00:00.000Z');
  });

  test('consecutive windows tile time with no gap or overlap', async () => {
    for (const [period, zone] of [
      ['day', 'Europe/Berlin'],
      ['week', 'America/Santiago'],
      ['month', 'Australia/Lord_Howe'],
    ] as const) {
      let window = await windowFor(period, zone, at('2026-01-01T00:00:00Z'));
      for (let index = 0; index < 60; index++) {
        const next = await windowFor(period, zone, window.windowEnd);
        expect(next.windowStart).toEqual(window.windowEnd);
        expect(await windowFor(period, zone, new Date(window.windowEnd.getTime() - 1))).toEqual(window);
        window = next;
      }
    }
  });

  test('an unknown time zone is an error, and the admin API can tell one beforehand', async () => {
    const failure = await windowFor('day', 'Mars/Olympus_Mons', new Date()).catch((error: unknown) => rootCause(error));
    expect((failure as Error).message).toMatch(/time zone/);
    expect(await isKnownTimeZone(store, 'Mars/Olympus_Mons')).toBe(false);
    expect(await isKnownTimeZone(store, 'Asia/Kolkata')).toBe(true);
  });
});
