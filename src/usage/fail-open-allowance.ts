import { type Amount, failOpenFits, type Remaining, reservationFor } from '../budget';
import type { Admission, AdmitResult } from '../ledger/types';
import type { Money, Price } from '../pricing';

/** What the allowance decided for one request; a refusal says why (the client gets 503 either way). */
export type FailOpenDecision =
  | { admitted: true; price: Price; reservedCost: Money }
  | { admitted: false; reason: 'price_unknown' | 'budget_unknown' | 'over_budget' | 'key_revoked' };

/** A fail-open admission's amount, counted against the key until the database is known to hold it. */
interface Blind extends Amount {
  /** The ledger epoch in which its row was written; null while it waits. */
  writtenIn: number | null;
}

interface KeyMemory {
  /** The last answer the database gave for this key; null before any. */
  seen: { remaining: Remaining | null; revoked: boolean; epoch: number } | null;
  /** By request id: what this instance admitted fail-open and the database may not reflect yet. */
  blind: Map<string, Blind>;
}

/**
 * What a `failOpen` key may still be admitted while the database is unreachable, from what this
 * instance last heard: per key, the budget left at its last admission (or refusal), less every
 * fail-open admission since. In memory and per instance: spend on other instances is not seen,
 * which is why a fail-open row that ends up over the limit is flagged.
 *
 * Epochs make "since" exact: the ledger counts its committed batches, each admission notes the
 * count when it started, and a fail-open amount stops counting only once an admission that began
 * after its row was committed has reported the budget (that report includes it).
 */
export class FailOpenAllowance {
  readonly #keys = new Map<string, KeyMemory>();
  readonly #prices = new Map<string, Price>();
  readonly #maxKeys: number;

  constructor(maxKeys = 10_000) {
    this.#maxKeys = maxKeys;
  }

  /** Learns from an admission that reached the database; `epoch` is the ledger's when it began. */
  observe(admission: Admission, result: AdmitResult, epoch: number): void {
    if (result.admitted || result.reason === 'insufficient_quota') this.#prices.set(admission.routedModel, result.price);
    if (!result.admitted && result.reason === 'rate_limited') return; // says nothing about the budget
    const memory = this.#memory(admission.keyId);
    // Admissions can finish out of order; an older report must not undo a newer one.
    if (memory.seen && memory.seen.epoch > epoch) return;
    const revoked = !result.admitted && (result.reason === 'key_revoked' || result.reason === 'not_permitted');
    const budget = result.admitted || result.reason === 'insufficient_quota' ? result.budget : null;
    memory.seen = { remaining: budget ? { cost: budget.remainingCost, tokens: budget.remainingTokens } : null, revoked, epoch };
    for (const [requestId, blind] of memory.blind) if (blind.writtenIn !== null && blind.writtenIn <= epoch) memory.blind.delete(requestId);
  }

  /**
   * Decides one request while the database is unreachable. `budgeted` is what auth cached; a
   * budgeted key needs a known budget state here. Admitting counts its worst case at once.
   */
  grant(admission: Admission, budgeted: boolean): FailOpenDecision {
    const price = this.#prices.get(admission.routedModel);
    if (!price) return { admitted: false, reason: 'price_unknown' };
    const memory = this.#keys.get(admission.keyId);
    const seen = memory?.seen ?? null;
    if (seen?.revoked) return { admitted: false, reason: 'key_revoked' };
    const worstCase = reservationFor(price, admission.promptTokens, admission.maxCompletionTokens);
    if (seen?.remaining) {
      if (!failOpenFits(seen.remaining, sum(memory!.blind.values()), worstCase)) return { admitted: false, reason: 'over_budget' };
    } else if (budgeted) {
      return { admitted: false, reason: 'budget_unknown' };
    }
    this.#memory(admission.keyId).blind.set(admission.requestId, { ...worstCase, writtenIn: null });
    return { admitted: true, price, reservedCost: worstCase.cost };
  }

  /** The request ended: count what it really cost instead of its worst case. */
  settled(keyId: string, requestId: string, billed: Amount): void {
    const blind = this.#keys.get(keyId)?.blind.get(requestId);
    if (blind) Object.assign(blind, billed);
  }

  /** A grant that was not used after all (its request was refused): it stops counting. */
  revoke(keyId: string, requestId: string): void {
    this.#keys.get(keyId)?.blind.delete(requestId);
  }

  /** Their rows were committed in ledger epoch `epoch`. */
  written(requests: readonly { keyId: string; requestId: string }[], epoch: number): void {
    for (const { keyId, requestId } of requests) {
      const blind = this.#keys.get(keyId)?.blind.get(requestId);
      if (blind) blind.writtenIn = epoch;
    }
  }

  /** The key's memory, made most recent; the least recent key is forgotten past `maxKeys` (it then fails closed if budgeted). */
  #memory(keyId: string): KeyMemory {
    const memory = this.#keys.get(keyId) ?? { seen: null, blind: new Map() };
    this.#keys.delete(keyId);
    if (this.#keys.size >= this.#maxKeys) this.#keys.delete(this.#keys.keys().next().value!);
    this.#keys.set(keyId, memory);
    return memory;
  }
}

function sum(amounts: Iterable<Amount>): Amount {
  let cost: Money = 0n;
  let tokens = 0;
  for (const amount of amounts) {
    cost += amount.cost;
    tokens += amount.tokens;
  }
  return { cost, tokens };
}
