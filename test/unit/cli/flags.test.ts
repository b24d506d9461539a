import { describe, expect, test } from 'vitest';
import { UsageError } from '../../../src/cli';
import { type OptionSpecs, parseFlags } from '../../../src/cli/flags';

const specs: OptionSpecs = { v: { type: 'string', description: '' } };
const flag = (value: string) => parseFlags(['--v', value], specs).flags;

describe('money keeps the exact decimal string', () => {
  test.each(['0', '10', '0.03', '0.000001', '12345678901234567890.123456789'])('%s', (value) => {
    expect(flag(value).money('v')).toBe(value);
  });
  test.each(['1e3', '.5', '5.', '1,5', '0x10', ' 1', 'NaN', '1.2.3'])('rejects %j', (value) => {
    expect(() => flag(value).money('v')).toThrow(UsageError);
  });
});

describe('instant normalises to UTC', () => {
  test.each([
    ['2027-01-01', '2027-01-01T00:00:00.000Z'],
    ['2027-01-01T00:00:00Z', '2027-01-01T00:00:00.000Z'],
    ['2027-01-01T02:30:00+02:00', '2027-01-01T00:30:00.000Z'],
    ['2027-01-01T00:00Z', '2027-01-01T00:00:00.000Z'],
  ])('%s', (value, expected) => {
    expect(flag(value).instant('v')).toBe(expected);
  });
  test.each(['2027-01-01T00:00:00', 'tomorrow', '2027-13-01', '1735689600'])('rejects %j', (value) => {
    expect(() => flag(value).instant('v')).toThrow(UsageError);
  });
});

test.each([
  ['10', {}, 10],
  ['0', {}, 0],
  ['100', { min: 0, max: 100 }, 100],
])('integer %s %j', (value, range, expected) => {
  expect(flag(value).integer('v', range)).toBe(expected);
});

test.each([['1.5'], ['-1'], ['9007199254740993'], ['1_000']])('integer rejects %j', (value) => {
  expect(() => flag(value).integer('v')).toThrow(UsageError);
});

test('list trims items', () => {
  expect(flag(' a, b ,c').list('v')).toEqual(['a', 'b', 'c']);
});
