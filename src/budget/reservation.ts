import type { BudgetState } from '../ledger/types';
import { costOf, type Money, type Price } from '../pricing';

/** The worst case a request can cost: its prompt plus every completion token it may generate. */
export function reservationFor(
  price: Pick<Price, 'promptPer1k' | 'completionPer1k'>,
  promptTokens: number,
  maxCompletionTokens: number,
): { cost: Money; tokens: number } {
  return { cost: costOf(price, { promptTokens, completionTokens: maxCompletionTokens }).total, tokens: promptTokens + maxCompletionTokens };
}

/**
 * Whether a window has used at least `softThresholdPct` percent of its money (or else token)
 * limit, reservations included: the point to warn the key's owner.
 */
export function pastSoftThreshold(state: BudgetState, softThresholdPct: number | null): boolean {
  if (softThresholdPct === null) return false;
  if (state.limitCost !== null) {
    return (state.spentCost + state.reservedCost) * 100n >= state.limitCost * BigInt(softThresholdPct);
  }
  if (state.limitTokens !== null) {
    return (state.spentTokens + state.reservedTokens) * 100 >= state.limitTokens * softThresholdPct;
  }
  return false;
}
