import type { Money, Price } from '../pricing';

/** How a request ended. `pending` exists only between admission and settle. */
export type FinalStatus =
  | 'ok'
  | 'upstream_error'
  | 'client_disconnected'
  | 'timeout'
  | 'rejected'
  | 'incomplete'
  | 'gateway_error';
export type RequestStatus = 'pending' | FinalStatus;

export type Endpoint = 'chat.completions' | 'completions' | 'embeddings';

/** The budget window a budgeted key's request reserves against (computed by budget/). */
export interface BudgetWindowRef {
  windowStart: Date;
  windowEnd: Date;
}

/** What admission writes: the pending ledger row and, for budgeted keys, the reservation. */
export interface Admission {
  requestId: string;
  keyId: string;
  endpoint: Endpoint;
  requestedModel: string;
  routedModel: string;
  backend: string;
  /** The gateway's own prompt count. */
  promptTokens: number;
  /** The completion cap forwarded upstream; the reservation's worst case uses it. */
  maxCompletionTokens: number;
  stream: boolean;
  startedAt: Date;
  /** Per-key requests and tokens per minute; null for no limit. */
  rateLimits?: { rpm: number | null; tpm: number | null };
}

export interface BudgetState {
  windowStart: Date;
  softThresholdPct: number | null;
  limitCost: Money | null;
  limitTokens: number | null;
  spentCost: Money;
  reservedCost: Money;
  spentTokens: number;
  reservedTokens: number;
  /** What is left after this request's reservation (money limit, else null). */
  remainingCost: Money | null;
  remainingTokens: number | null;
}

export type AdmitResult =
  | { admitted: true; price: Price; reservedCost: Money; budget: BudgetState | null }
  | { admitted: false; reason: 'insufficient_quota'; price: Price; reservedCost: Money; budget: BudgetState }
  | { admitted: false; reason: 'rate_limited'; retryAfterSeconds: number }
  | { admitted: false; reason: 'key_revoked' };

/** The final word on one request. The cost is computed by the caller with the admitted price. */
export interface Settlement {
  requestId: string;
  status: FinalStatus;
  promptTokens: number;
  completionTokens: number;
  usageSource: 'upstream' | 'gateway' | 'none';
  /** The gateway's own count of what was generated, kept beside upstream's figure. */
  completionTokensEstimated: number | null;
  billedCost: Money;
  latencyMs: number;
  ttftMs: number | null;
  errorCode: string | null;
  finishedAt: Date;
}

/** What `admitFailOpen` decided; a refusal says why (the client gets 503 either way). */
export type FailOpenDecision =
  | { admitted: true; price: Price; reservedCost: Money }
  | { admitted: false; reason: 'price_unknown' | 'budget_unknown' | 'over_budget' | 'key_revoked' };

/** A request admitted fail-open, with its final word: the ledger writes the whole row at once. */
export interface FailOpenRequest {
  admission: Admission;
  /** The price this instance last saw for the routed model; the settlement was computed with it. */
  price: Price;
  /** The worst case the decision counted (recorded as the row's reserved cost; nothing is reserved). */
  reservedCost: Money;
  settlement: Settlement;
}

/** A request refused before admission (bad input, context overflow): one final row, cost 0. */
export interface Rejection {
  requestId: string;
  keyId: string;
  endpoint: Endpoint;
  requestedModel: string;
  routedModel: string | null;
  promptTokens: number | null;
  stream: boolean;
  errorCode: string;
  startedAt: Date;
  finishedAt: Date;
}

export interface Ledger {
  /** One round trip: checks the key is live, prices the worst case, reserves budget, writes `pending`. */
  admit(admission: Admission): Promise<AdmitResult>;
  /** Queues the final row; never throws and is never awaited on the response path. */
  settle(settlement: Settlement): void;
  /** Queues a final `rejected` row for a request that was never admitted. */
  reject(rejection: Rejection): void;
  /** Writes everything queued (retrying), resolving when done or when `timeoutMs` passes. */
  flush(timeoutMs?: number): Promise<void>;
  /** Settlements and rejections held in memory, not yet written. */
  readonly waiting: number;
  /**
   * Called after `admit` threw LedgerUnavailableError, for a key with `failOpen`: admits it within
   * the budget this instance last saw for the key, and its settle later writes the whole row.
   * Optional: a Workers invocation's queue cannot outlive the invocation, so there it fails closed.
   */
  admitFailOpen?(admission: Admission, key: { budgeted: boolean }): FailOpenDecision;
  /** Requests admitted fail-open since start (a metric). */
  readonly failOpenAdmitted?: number;
}
