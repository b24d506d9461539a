import type { Money } from './money';
import { parseUsd } from './money';

/** A price version: what one model costs per 1k tokens from `effectiveFrom` on. */
export interface Price {
  /** Database id of the price version; 0 for a price not yet stored. */
  id: number;
  model: string;
  promptPer1k: Money;
  completionPer1k: Money;
  effectiveFrom: Date;
}

export interface TokenCounts {
  promptTokens: number;
  completionTokens: number;
}

export interface Cost {
  prompt: Money;
  completion: Money;
  total: Money;
}

/**
 * The highest price per 1k tokens accepted ($10; the dearest model ever sold cost well under $1):
 * with MAX_REQUEST_TOKENS it keeps every request's worst case inside a bigint of picodollars.
 */
export const MAX_PRICE_PER_1K: Money = 10n * 1_000_000_000_000n;

/** Per-1k price in picodollars must divide by 1,000 so that one token has an exact price. */
export function parsePricePer1k(text: string): Money {
  const value = parseUsd(text);
  if (value > MAX_PRICE_PER_1K) throw new RangeError(`price "${text}" per 1k tokens is above the highest accepted, 10`);
  if (value % 1000n !== 0n) {
    throw new RangeError(`price "${text}" per 1k has more than 9 decimal places; one token would not have an exact price`);
  }
  return value;
}

export function costOf(price: Pick<Price, 'promptPer1k' | 'completionPer1k'>, tokens: TokenCounts): Cost {
  const prompt = (BigInt(tokens.promptTokens) * price.promptPer1k) / 1000n;
  const completion = (BigInt(tokens.completionTokens) * price.completionPer1k) / 1000n;
  return { prompt, completion, total: prompt + completion };
}
