import { describe, expect, test } from 'vitest';
import { GatewayError } from '../../../src/errors';
import { parseRequestsSpec, parseUsageSpec } from '../../../src/reports/spec';

const base = { from: ['2026-11-01'], to: ['2026-12-01'] };

describe('report parameters', () => {
  test('a usage query: dates, zone, bucket, dimensions, filters (none: no team; an empty tag value: untagged)', () => {
    expect(
      parseUsageSpec({
        ...base,
        tz: ['Asia/Kolkata'],
        bucket: ['day'],
        groupBy: ['team,tag:project', 'model'],
        team: ['team_a,none'],
        'tag:env': ['prod,'],
        status: ['ok'],
        top: ['5'],
      }),
    ).toEqual({
      from: { date: '2026-11-01' },
      to: { date: '2026-12-01' },
      tz: 'Asia/Kolkata',
      bucket: 'day',
      groupBy: [{ kind: 'team' }, { kind: 'tag', name: 'project' }, { kind: 'model' }],
      filters: { teams: ['team_a', null], statuses: ['ok'], tags: [{ name: 'env', values: ['prod', null] }] },
      top: 5,
    });
    expect(parseUsageSpec({ from: ['2026-11-01T04:00:00Z'], to: ['2026-11-02T00:00:00-05:00'] }).from).toEqual({
      instant: new Date('2026-11-01T04:00:00Z'),
    });
  });

  test.each([
    [{}, 'from'],
    [{ ...base, bucket: ['fortnight'] }, 'bucket'],
    [{ ...base, groupBy: ['team,team'] }, 'groupBy'],
    [{ ...base, groupBy: ['cost'] }, 'groupBy'],
    [{ ...base, groupBy: ['tag:Bad Name'] }, 'groupBy'],
    [{ ...base, top: ['3'] }, 'top'],
    [{ ...base, status: ['pending'] }, 'status'],
    [{ ...base, group_by: ['team'] }, 'group_by'],
    [{ ...base, from: ['2026-13-45'] }, 'from'],
    [{ ...base, from: ['yesterday'] }, 'from'],
    [{ ...base, tz: ['Europe/Berlin;DROP'] }, 'tz'],
    [{ ...base, key: ["key_1' OR 1=1"] }, 'key'],
    [{ ...base, from: ['2026-11-01', '2026-10-01'] }, 'from'],
  ])('%j is refused with a 400 naming %s', (params, param) => {
    try {
      parseUsageSpec(params as Record<string, string[]>);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(GatewayError);
      expect((error as GatewayError).status).toBe(400);
      expect((error as GatewayError).param).toBe(param);
    }
  });

  test('a requests query: limit, order and cursor', () => {
    expect(parseRequestsSpec({ ...base, limit: ['250'], order: ['desc'], cursor: ['abc'] })).toMatchObject({
      limit: 250,
      order: 'desc',
      cursor: 'abc',
    });
    expect(() => parseRequestsSpec({ ...base, limit: ['5000'] })).toThrow(GatewayError);
    expect(() => parseRequestsSpec({ ...base, groupBy: ['team'] })).toThrow(GatewayError);
  });
});
