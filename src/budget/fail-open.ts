import type { Money } from '../pricing';

/** Money and tokens; a null side has no limit. */
export interface Remaining {
  cost: Money | null;
  tokens: number | null;
}

export interface Amount {
  cost: Money;
  tokens: number;
}

/**
 * Whether a request may go ahead while the database is unreachable: its worst case must fit in
 * what the key had left when this instance last heard from the database, after what this
 * instance has admitted fail-open for it since. A key known to be at or over its limit never fits.
 *
 * @example
 * failOpenFits({ cost: 100n, tokens: null }, { cost: 60n, tokens: 9 }, { cost: 40n, tokens: 5 }) // true
 */
export function failOpenFits(remaining: Remaining, admittedSince: Amount, worstCase: Amount): boolean {
  if (remaining.cost !== null && admittedSince.cost + worstCase.cost > remaining.cost) return false;
  if (remaining.tokens !== null && admittedSince.tokens + worstCase.tokens > remaining.tokens) return false;
  return true;
}
