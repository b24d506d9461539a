// How much of a key's budget window one instance's lease may take: store/leases.ts grants it
// under the window's row lock, usage/leases.ts decides what to ask for.

/** The key's budget window as the grant left it (after adding the grant). */
export interface LeasedWindow {
  windowStart: Date;
  windowEnd: Date;
  softThresholdPct: number | null;
  limitCost: bigint | null;
  limitTokens: number | null;
  spentCost: bigint;
  reservedCost: bigint;
  spentTokens: number;
  reservedTokens: number;
}

/** What the caller asks of a grant, once it has seen the price and the window. */
export interface LeaseAsk {
  /** The grant is refused (nothing taken) unless at least this much fits under the limit. */
  minCost: bigint;
  minTokens: number;
  /** As much as this is taken, never more than half of what is left above `min`. */
  wantCost: bigint;
  wantTokens: number;
}

/**
 * The grant under a window's limits: null when `min` does not fit; else `want`, but at most half
 * of what is left above `min`, so one instance does not take the last of a budget that others
 * share (it takes it in halves, each grant a round trip, as the window runs low).
 */
export function decideGrant(window: LeasedWindow, ask: LeaseAsk): { cost: bigint; tokens: number } | null {
  let cost = ask.minCost;
  if (ask.wantCost > cost) cost = ask.wantCost;
  let tokens = Math.max(ask.wantTokens, ask.minTokens);
  if (window.limitCost !== null) {
    const left = window.limitCost - window.spentCost - window.reservedCost;
    if (ask.minCost > left) return null;
    const share = ask.minCost + (left - ask.minCost) / 2n;
    if (cost > share) cost = share;
  }
  if (window.limitTokens !== null) {
    const left = window.limitTokens - window.spentTokens - window.reservedTokens;
    if (ask.minTokens > left) return null;
    tokens = Math.min(tokens, ask.minTokens + Math.floor((left - ask.minTokens) / 2));
  }
  return { cost, tokens };
}
