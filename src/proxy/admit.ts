import { GatewayError, ledgerUnavailable } from '../errors';
import { type AdmitResult, type BudgetState, DuplicateRequestIdError, LedgerUnavailableError, type Meter } from '../ledger';
import { costOf, formatUsd, type Price } from '../pricing';
import type { Plan } from './plan';
import type { ProxyRequest } from './request';

export interface Admitted {
  budget: BudgetState | null;
  /** Set when `shrinkMaxTokens` lowered the per-choice cap to what the budget pays for. */
  adjustedMaxTokens: number | null;
  /** Admitted without the database (the key's `failOpen`): the response says so. */
  failOpen: boolean;
  /** The plan as admitted (its caps lowered when `shrinkMaxTokens` applied). */
  plan: Plan;
}

/** What admission needs around the meter: budget alerts, the auth cache and the rate gate. */
export interface AdmitDeps {
  noteBudget: (keyId: string, state: BudgetState, refused: boolean) => void;
  forgetKey: (keyId: string) => void;
  /** The key's requests for this minute are used up: refuse what it sends before reading it, until the minute ends. */
  closeRateGate: (keyId: string, refusal: { retryAfterSeconds: number; rpm: number | null; tpm: number | null }) => void;
}

/** What admission needs to know of the key: its id and its shrinkMaxTokens options. */
export interface AdmittedKey {
  keyId: string;
  options: { shrinkMaxTokens?: boolean; minMaxTokens?: number };
}

const DEFAULT_MIN_MAX_TOKENS = 16;

const meterPlan = (plan: Plan) => ({
  routedModel: plan.servedModel,
  backend: plan.backendName,
  caps: { promptTokens: plan.promptTokens, completionTokens: plan.completionCap },
  countTokens: (text: string) => plan.counter.countAsync(text),
});

/**
 * Step 6 of the request path: the meter reserves the worst case against the key's budget and
 * rate window and writes the pending row, in one round trip. A refusal is recorded by the meter
 * and answered with OpenAI's error; a key with `shrinkMaxTokens` gets one more try with the cap
 * its remaining budget pays for.
 */
export async function admit(meter: Meter, deps: AdmitDeps, caller: AdmittedKey, request: ProxyRequest, plan: Plan): Promise<Admitted> {
  let result = await tryAdmit(meter, plan);
  let adjustedMaxTokens: number | null = null;
  let admittedPlan = plan;
  if (!result.admitted && result.reason === 'insufficient_quota' && caller.options.shrinkMaxTokens) {
    const affordable = affordableMaxTokens(result.price, result.budget, plan.promptTokens, request.choices * plan.prompts);
    const minimum = caller.options.minMaxTokens ?? DEFAULT_MIN_MAX_TOKENS;
    if (affordable >= minimum && affordable < plan.maxCompletionTokens) {
      adjustedMaxTokens = affordable;
      admittedPlan = { ...plan, maxCompletionTokens: affordable, completionCap: affordable * request.choices * plan.prompts };
      result = await tryAdmit(meter, admittedPlan);
    }
  }
  if (result.admitted) {
    if (result.budget) deps.noteBudget(caller.keyId, result.budget, false);
    return { budget: result.budget, adjustedMaxTokens, failOpen: result.failOpen === true, plan: admittedPlan };
  }
  if (result.reason === 'key_revoked') {
    deps.forgetKey(caller.keyId);
    throw new GatewayError(401, 'Incorrect API key provided. You can find your API key with your tollgate operator.', {
      code: 'invalid_api_key',
    });
  }
  if (result.reason === 'not_permitted') {
    deps.forgetKey(caller.keyId);
    throw new GatewayError(403, `This key may not use the model '${request.model}' (or no longer has the 'proxy' scope).`, {
      code: 'model_not_allowed',
      param: 'model',
    });
  }
  if (result.reason === 'rate_limited') {
    // Only for requests: a refusal for tokens says nothing about a smaller request.
    if (result.requestsExhausted) deps.closeRateGate(caller.keyId, result);
    meter.reject('rate_limit_exceeded', { routedModel: plan.servedModel, promptTokens: plan.promptTokens });
    throw rateLimitError(result);
  }
  meter.reject('insufficient_quota', { routedModel: plan.servedModel, promptTokens: plan.promptTokens });
  deps.noteBudget(caller.keyId, result.budget, true);
  throw new GatewayError(429, quotaMessage(result.budget, result.reservedCost, plan.promptTokens + plan.completionCap), {
    type: 'insufficient_quota',
    code: 'insufficient_quota',
  });
}

export function rateLimitError(limits: { rpm: number | null; tpm: number | null; retryAfterSeconds: number }): GatewayError {
  const parts = [limits.rpm ? `${limits.rpm} requests` : null, limits.tpm ? `${limits.tpm} tokens` : null].filter(Boolean);
  return new GatewayError(
    429,
    `Rate limit reached for this key: ${parts.join(' and ')} per minute. Try again in ${limits.retryAfterSeconds} s.`,
    {
      type: 'rate_limit_error',
      code: 'rate_limit_exceeded',
      headers: { 'retry-after': String(limits.retryAfterSeconds) },
    },
  );
}

async function tryAdmit(meter: Meter, plan: Plan): Promise<AdmitResult> {
  try {
    return await meter.admit(meterPlan(plan));
  } catch (error) {
    if (error instanceof DuplicateRequestIdError) {
      throw new GatewayError(
        409,
        `The request id '${meter.requestId}' was already used by this key; send a new x-request-id (or none) for a new request.`,
        {
          code: 'duplicate_request_id',
          param: 'x-request-id',
        },
      );
    }
    if (error instanceof LedgerUnavailableError) {
      throw ledgerUnavailable(
        /last known budget/.test(error.message)
          ? "The usage ledger is unreachable and this key's last known budget does not cover this request, so it cannot be admitted right now. Try again shortly."
          : undefined,
      );
    }
    throw error;
  }
}

/** The largest per-choice cap the remaining money and token budget pay for, next to this prompt, for `sequences` generated sequences. */
export function affordableMaxTokens(price: Price, budget: BudgetState, promptTokens: number, sequences: number): number {
  let affordable = Number.MAX_SAFE_INTEGER;
  if (budget.remainingCost !== null) {
    const perToken = price.completionPer1k / 1000n; // exact: prices are whole picodollars per token
    const promptCost = costOf(price, { promptTokens, completionTokens: 0 }).total;
    const left = budget.remainingCost - promptCost;
    affordable = left <= 0n ? 0 : perToken === 0n ? affordable : Number(left / (perToken * BigInt(sequences)));
  }
  if (budget.remainingTokens !== null) affordable = Math.min(affordable, Math.floor((budget.remainingTokens - promptTokens) / sequences));
  return Math.max(0, affordable);
}

function quotaMessage(budget: BudgetState, worstCase: bigint, worstTokens: number): string {
  const parts: string[] = [];
  if (budget.remainingCost !== null) {
    parts.push(
      `this request may cost up to $${formatUsd(worstCase)} and the key's budget has $${formatUsd(budget.remainingCost < 0n ? 0n : budget.remainingCost)} left`,
    );
  }
  if (budget.remainingTokens !== null) {
    parts.push(`it may use up to ${worstTokens} tokens and the key's budget has ${Math.max(0, budget.remainingTokens)} tokens left`);
  }
  return `You exceeded your current quota: ${parts.join('; ')}. Lower max_tokens, or ask your operator to raise the budget.`;
}
