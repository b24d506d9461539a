import type { Money, Price } from '../pricing';
import type { Endpoint, FinalStatus, UsageNote, UsageSource } from './statuses';

/** Request tags as stored: allowlisted keys to bounded values; `{}` when untagged. */
export type Tags = Readonly<Record<string, string>>;

/**
 * A ledger row's identity. Request ids are per key (another key's id neither collides nor
 * reveals anything), and the row lives in the month partition of `startedAt`.
 */
export interface RowKey {
  requestId: string;
  keyId: string;
  startedAt: Date;
}

/** What admission writes: the pending row and, for a budgeted key, the reservation. */
export interface Admission extends RowKey {
  endpoint: Endpoint;
  requestedModel: string;
  routedModel: string;
  backend: string;
  /** The gateway's own prompt count, every prompt of a batch included: the prompt side of the worst case. */
  promptTokens: number;
  /** The most completion tokens the forwarded request can make the backend generate (per-choice cap × choices × prompts). */
  maxCompletionTokens: number;
  stream: boolean;
  tags?: Tags;
  /** The instance that owns the pending row until it is final; null where there is no heartbeat (Workers). */
  instanceId?: string | null;
  /**
   * The client chose the request id (x-request-id): only the database can tell whether the key
   * used it before, so such a request is always admitted there (never against a lease).
   */
  clientRequestId?: boolean;
  /** The key's team as auth last saw it: used only for a row written without admission (the database was away). */
  teamId?: string | null;
  /**
   * The key may be admitted while the database is unreachable (its `failOpen` option, as auth
   * cached it), and whether it had a budget then; absent: fail closed.
   */
  failOpen?: { budgeted: boolean } | null;
}

/** A budget window's state as admission saw it. */
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
  | {
      admitted: true;
      price: Price;
      reservedCost: Money;
      budget: BudgetState | null;
      /** Admitted without the database (the key's `failOpen`): the response says so. */
      failOpen?: boolean;
    }
  | { admitted: false; reason: 'insufficient_quota'; price: Price; reservedCost: Money; budget: BudgetState }
  | {
      admitted: false;
      reason: 'rate_limited';
      retryAfterSeconds: number;
      rpm: number | null;
      tpm: number | null;
      /** The minute's requests are used up (not only its tokens): nothing the key sends can pass before it ends. */
      requestsExhausted: boolean;
    }
  /** Unknown, revoked or expired. */
  | { admitted: false; reason: 'key_revoked' }
  /** The key lost the `proxy` scope or the model since auth cached it. */
  | { admitted: false; reason: 'not_permitted' };

/** The final fields of a row: how the request ended and what it is billed. */
export interface Outcome {
  status: FinalStatus;
  promptTokens: number;
  completionTokens: number;
  usageSource: UsageSource;
  /** Why the gateway's own count was billed instead of the backend's usage. */
  usageNote?: UsageNote | null;
  /** The gateway's own count of the completion it relayed, kept beside the backend's figure. */
  completionTokensEstimated: number | null;
  billedCost: Money;
  latencyMs: number | null;
  ttftMs: number | null;
  errorCode: string | null;
  finishedAt: Date;
}

/** What a row written whole (not through a pending row) needs besides its outcome. */
export interface WholeRow {
  admission: Admission;
  priceId: number | null;
  /** The worst case counted for it (reserved, or counted against a fail-open allowance). */
  reservedCost: Money;
  /** Admitted while the database was unreachable (the key's `failOpen`). */
  admittedFailOpen: boolean;
}

/**
 * The final word on an admitted request. It finalizes the pending row; when there is none (the
 * admission was lost, or never reached the database) and `row` is given, the whole row is
 * written instead and its cost added to its window. Idempotent: a final row is never changed.
 */
export interface Settlement extends RowKey, Outcome {
  row?: WholeRow;
  /** Backend attempts the request took (0: none was made); absent: the row's default. */
  attempts?: number;
  /** The replica (backend name) that served it, or the last one tried. */
  replica?: string | null;
  /** The W3C trace context sent to the backend. */
  traceparent?: string | null;
  /** Admitted against this instance's budget lease: the final row spends this much of it. */
  lease?: LeaseSpend;
}

/** What a leased request's final row takes out of its instance's lease (and of its window's `reserved`). */
export interface LeaseSpend {
  instanceId: string;
  windowStart: Date;
  windowEnd: Date;
  cost: Money;
  tokens: number;
}

/** A request refused before anything was reserved (context, quota, rate): one final row, cost 0. */
export interface Rejection extends RowKey {
  endpoint: Endpoint;
  requestedModel: string;
  routedModel: string | null;
  promptTokens: number | null;
  stream: boolean;
  errorCode: string;
  finishedAt: Date;
  tags?: Tags;
  teamId?: string | null;
  /** The W3C trace context of the request (nothing was sent to a backend). */
  traceparent?: string | null;
}

/** What became of a written batch, for alerts and logs. */
export interface RecordOutcome {
  /** Rows written whole whose cost left their budget window over its limit (flagged `over_limit`). */
  overLimit: { requestId: string; keyId: string; windowStart: Date }[];
  /** Rows given whole whose id was already held by another final row: nothing was written or billed for them. */
  idTaken: string[];
}

/**
 * The ledger as the request path sees it. Admission is one awaited round trip; everything after
 * is queued and written in the background, retried while the database is away, and never written
 * twice.
 */
export interface Ledger {
  /** Checks the key, prices the worst case, takes the rate and budget reservations, writes `pending`. */
  admit(admission: Admission): Promise<AdmitResult>;
  /** Queues the final row of an admitted request; never throws, never awaited on the response path. */
  settle(settlement: Settlement): void;
  /** Queues the final row of a request refused before admission. */
  reject(rejection: Rejection): void;
  /** Counts a request that reserves nothing (an estimate, a context refusal) against the key's rpm. */
  meterRate(key: RowKey): Promise<RateResult>;
  /** Writes everything queued, resolving when done or when `timeoutMs` passes. */
  flush(timeoutMs?: number): Promise<void>;
  /** Rows held in memory, not yet written. */
  readonly waiting: number;
}

export type RateResult = { ok: true } | { ok: false; retryAfterSeconds: number; rpm: number | null; tpm: number | null };

/** The database behind the ledger; store/ implements it. Errors are classified by `isUnavailable`. */
export interface LedgerRepository {
  admit(admission: Admission, options: { durable: boolean }): Promise<AdmitResult>;
  /** One transaction: settlements and rejections, each final once. */
  record(
    batch: { settlements: readonly Settlement[]; rejections: readonly Rejection[] },
    options: { durable: boolean },
  ): Promise<RecordOutcome>;
  meterRate(key: RowKey): Promise<RateResult>;
  /** The database could not be reached (as opposed to a bad statement or a bug). */
  isUnavailable(error: unknown): boolean;
  /** Retrying cannot help (bad data, constraint, SQL). */
  isPermanent(error: unknown): boolean;
  /** The request id is already used by this key. */
  isDuplicateRequestId(error: unknown): boolean;
  /** Postgres server vs embedded. */
  readonly kind: 'pglite' | 'postgres';
}
