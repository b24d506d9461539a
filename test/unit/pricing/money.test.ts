import { describe, expect, test } from 'vitest';
import { costOf, formatUsd, parsePricePer1k, parseUsd } from '../../../src/pricing';

describe('money', () => {
  test.each([
    ['0.03', 30_000_000_000n, '0.03'],
    ['12', 12_000_000_000_000n, '12'],
    ['0.000000000001', 1n, '0.000000000001'],
    ['1.50', 1_500_000_000_000n, '1.5'],
  ])('parseUsd(%s) round-trips', (text, pico, formatted) => {
    expect(parseUsd(text)).toBe(pico);
    expect(formatUsd(pico)).toBe(formatted);
  });

  test.each(['-1', '1e3', '0.1234567890123', 'abc', '', '1.'])('rejects %j', (text) => {
    expect(() => parseUsd(text)).toThrow(RangeError);
  });

  test('a per-1k price needs an exact per-token price', () => {
    expect(parsePricePer1k('0.000000001')).toBe(1000n);
    expect(() => parsePricePer1k('0.0000000001')).toThrow(/9 decimal places/);
  });

  test('10,000 requests at $0.000123 per 1k sum to the exact decimal', () => {
    const price = { promptPer1k: parsePricePer1k('0.000123'), completionPer1k: parsePricePer1k('0.000123') };
    let total = 0n;
    for (let i = 0; i < 10_000; i++) total += costOf(price, { promptTokens: 7 + (i % 13), completionTokens: 3 }).total;
    // Σ(7 + i mod 13) over 10,000 requests = 10,000·7 + (769 full cycles of 0..12 = 769·78) + (0..2 = 3) = 129,985
    const tokens = 129_985 + 30_000;
    expect(formatUsd(total)).toBe('0.019678155');
    expect(total).toBe(BigInt(tokens) * 123_000n);
  });

  test('prompt and completion are priced apart', () => {
    const cost = costOf(
      { promptPer1k: parseUsd('0.03'), completionPer1k: parseUsd('0.06') },
      { promptTokens: 1000, completionTokens: 500 },
    );
    expect(formatUsd(cost.prompt)).toBe('0.03');
    expect(formatUsd(cost.completion)).toBe('0.03');
    expect(formatUsd(cost.total)).toBe('0.06');
  });
});
