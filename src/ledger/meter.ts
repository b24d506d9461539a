import { costOf, type Money, type Price } from '../pricing';
import { type Bill, type Caps, decideBill } from './bill';
import { LedgerUnavailableError } from './errors';
import type { Endpoint, FinalStatus } from './statuses';
import type { Admission, AdmitResult, Ledger, Tags } from './types';

/** What a meter knows from the start of a request. */
export interface MeterStart {
  requestId: string;
  keyId: string;
  endpoint: Endpoint;
  requestedModel: string;
  stream: boolean;
  startedAt: Date;
  tags?: Tags;
  teamId?: string | null;
  instanceId?: string | null;
  /** The key may be admitted while the database is unreachable (see Admission.failOpen). */
  failOpen?: { budgeted: boolean } | null;
  /** The W3C trace context passed to the backend, recorded on the row. */
  traceparent?: string | null;
  /** The client chose the request id (see Admission.clientRequestId). */
  clientRequestId?: boolean;
}

/** What admission reserves for: the served model and the caps of the request as forwarded. */
export interface MeterPlan {
  routedModel: string;
  backend: string;
  caps: Caps;
  /** Counts completion text the gateway relayed, in the served model's encoding. */
  countTokens: (text: string) => Promise<number>;
}

/** How an admitted request ended, as the relay saw it. */
export interface MeterOutcome {
  status: FinalStatus;
  /** The backend's final usage, if it sent one (never a per-chunk running figure). */
  reported: { promptTokens: number; completionTokens: number } | null;
  /** Completion text relayed to (or received for) the client, per choice. */
  relayed: readonly string[];
  /** The backend can have read the prompt (it answered, ran out of time, or the client left while it worked). */
  promptRead: boolean;
  ttftMs?: number | null;
  errorCode?: string | null;
}

export interface Charge extends Bill {
  cost: Money;
  /** The gateway's own count of what was relayed. */
  relayedTokens: number;
}

interface Admitted {
  phase: 'admitted';
  plan: MeterPlan;
  admission: Admission;
  price: Price;
  reservedCost: Money;
  failOpen: boolean;
}
type State = { phase: 'open' } | Admitted | { phase: 'final' };

/**
 * One request's ledger row, from arrival to its final word. A route opens a meter, and from then
 * on only the meter writes the row: `reject` (refused before anything was reserved), `admit` (the
 * reservation and the pending row, one round trip), then `finish` once the backend exchange ended.
 * It, and not the route or the relay, turns usage into cost (bill.ts has the rule).
 *
 * @example
 * const meter = new Meter(ledger, start, { now, clock });
 * const result = await meter.admit(plan);           // reserve, or a refusal to answer with
 * const charge = await meter.finish(outcome);       // bill, queue the final row
 */
export class Meter {
  #state: State = { phase: 'open' };
  readonly #started: number;
  #attempts = 0;
  #replica: string | null = null;

  constructor(
    private readonly ledger: Ledger,
    readonly start: MeterStart,
    private readonly time: { now: () => Date; clock: () => number },
  ) {
    this.#started = time.clock();
  }

  get requestId(): string {
    return this.start.requestId;
  }

  /**
   * An attempt is sent to `replica`. However many a request takes (retries on other replicas),
   * it keeps one row, billed once from the answer that reached the relay: an attempt refused
   * before any byte bills nothing, and the row records the count and the replica that served.
   */
  attempted(replica: string): void {
    this.#attempts++;
    this.#replica = replica;
  }

  /** Refused before anything was reserved: one final `rejected` row, cost 0. */
  reject(errorCode: string, facts: { routedModel?: string | null; promptTokens?: number | null } = {}): void {
    if (this.#state.phase === 'final') return;
    if (this.#state.phase === 'admitted') throw new Error(`meter ${this.requestId}: reject after admission; use finish`);
    this.#state = { phase: 'final' };
    this.ledger.reject({
      requestId: this.start.requestId,
      keyId: this.start.keyId,
      startedAt: this.start.startedAt,
      endpoint: this.start.endpoint,
      requestedModel: this.start.requestedModel,
      routedModel: facts.routedModel ?? null,
      promptTokens: facts.promptTokens ?? null,
      stream: this.start.stream,
      errorCode,
      finishedAt: this.time.now(),
      tags: this.start.tags,
      teamId: this.start.teamId,
      traceparent: this.start.traceparent ?? null,
    });
  }

  /**
   * Reserves the worst case of `plan` and writes the pending row, or learns why not (the caller
   * decides what to answer, and may try again with smaller caps before it rejects).
   */
  async admit(plan: MeterPlan): Promise<AdmitResult> {
    if (this.#state.phase !== 'open') throw new Error(`meter ${this.requestId}: admitted twice`);
    const admission: Admission = {
      requestId: this.start.requestId,
      keyId: this.start.keyId,
      startedAt: this.start.startedAt,
      endpoint: this.start.endpoint,
      requestedModel: this.start.requestedModel,
      routedModel: plan.routedModel,
      backend: plan.backend,
      promptTokens: plan.caps.promptTokens,
      maxCompletionTokens: plan.caps.completionTokens,
      stream: this.start.stream,
      tags: this.start.tags,
      teamId: this.start.teamId,
      instanceId: this.start.instanceId,
      failOpen: this.start.failOpen,
      clientRequestId: this.start.clientRequestId,
    };
    let result: AdmitResult;
    try {
      result = await this.ledger.admit(admission);
    } catch (error) {
      // The statement may still commit after our deadline: a final row at no cost makes sure it
      // reserves nothing (it finalizes the pending row, or makes the late insert fail on the id).
      if (error instanceof LedgerUnavailableError && error.ambiguous)
        this.reject('ledger_unavailable', { routedModel: plan.routedModel, promptTokens: plan.caps.promptTokens });
      throw error;
    }
    if (result.admitted) {
      this.#state = {
        phase: 'admitted',
        plan,
        admission,
        price: result.price,
        reservedCost: result.reservedCost,
        failOpen: result.failOpen === true,
      };
    }
    return result;
  }

  /** The price this request is billed at (known once admitted). */
  get price(): Price {
    return this.#admitted().price;
  }

  /** What `outcome` would be billed, without writing anything (the usage chunk of a stream, before its end). */
  async quote(outcome: Pick<MeterOutcome, 'reported' | 'relayed' | 'promptRead'>): Promise<Charge> {
    return this.#charge(this.#admitted(), outcome);
  }

  /** The request ended: bill it from the evidence and queue its final row. A second call does nothing and answers null. */
  async finish(outcome: MeterOutcome): Promise<Charge | null> {
    if (this.#state.phase !== 'admitted') return null;
    const state = this.#state;
    this.#state = { phase: 'final' };
    const charge = await this.#charge(state, outcome);
    this.ledger.settle({
      requestId: this.start.requestId,
      keyId: this.start.keyId,
      startedAt: this.start.startedAt,
      status: outcome.status,
      promptTokens: charge.promptTokens,
      completionTokens: charge.completionTokens,
      usageSource: charge.usageSource,
      usageNote: charge.usageNote,
      completionTokensEstimated: this.start.endpoint === 'embeddings' ? null : charge.relayedTokens,
      billedCost: charge.cost,
      latencyMs: Math.round(this.time.clock() - this.#started),
      ttftMs: outcome.ttftMs ?? null,
      errorCode: outcome.errorCode ?? null,
      finishedAt: this.time.now(),
      attempts: this.#attempts,
      replica: this.#replica,
      traceparent: this.start.traceparent ?? null,
      row: {
        admission: state.admission,
        priceId: state.price.id || null,
        reservedCost: state.reservedCost,
        admittedFailOpen: state.failOpen,
      },
    });
    return charge;
  }

  async #charge(state: Admitted, outcome: Pick<MeterOutcome, 'reported' | 'relayed' | 'promptRead'>): Promise<Charge> {
    let relayedTokens = 0;
    for (const text of outcome.relayed) relayedTokens += await state.plan.countTokens(text);
    const bill = decideBill({ reported: outcome.reported, relayedTokens, promptRead: outcome.promptRead }, state.plan.caps);
    return { ...bill, relayedTokens, cost: costOf(state.price, bill).total };
  }

  #admitted(): Admitted {
    if (this.#state.phase !== 'admitted') throw new Error(`meter ${this.requestId}: not admitted`);
    return this.#state;
  }
}
