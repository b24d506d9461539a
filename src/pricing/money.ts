/**
 * Money is a bigint count of picodollars (1e-12 USD). Any price with up to 9 decimal places per
 * 1k tokens (6 per 1M) is then a whole number of picodollars per token, so every cost is exact.
 */
export type Money = bigint;

export const PICO_PER_USD = 1_000_000_000_000n;
const SCALE_DIGITS = 12;
const DECIMAL = /^(\d{1,15})(?:\.(\d{1,12}))?$/;

/** Parses a non-negative decimal USD string ("0.03", "12") into picodollars; throws on anything else. */
export function parseUsd(text: string): Money {
  const match = DECIMAL.exec(text.trim());
  if (!match) throw new RangeError(`not a non-negative decimal amount with at most 12 decimal places: "${text}"`);
  const whole = BigInt(match[1]!);
  const frac = (match[2] ?? '').padEnd(SCALE_DIGITS, '0');
  return whole * PICO_PER_USD + BigInt(frac);
}

/** Formats picodollars as a plain decimal USD string with trailing zeros trimmed ("0.00369"). */
export function formatUsd(amount: Money): string {
  const negative = amount < 0n;
  const abs = negative ? -amount : amount;
  const whole = abs / PICO_PER_USD;
  const frac = (abs % PICO_PER_USD).toString().padStart(SCALE_DIGITS, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
}
