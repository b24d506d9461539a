import type { Caller, Deps } from '../deps';
import { GatewayError, ledgerUnavailable } from '../errors';
import { formatUsd, type Money, type Price } from '../pricing';
import { LedgerUnavailableError, rootCause } from '../usage';
import type { Admission, AdmitResult, BudgetState, FailOpenDecision } from '../usage/types';
import type { Plan } from './plan';
import type { ProxyRequest } from './request';

export type Admitted = Extract<AdmitResult, { admitted: true }> & {
  /** Set when `shrinkMaxTokens` lowered the cap to what the budget pays for. */
  adjustedMaxTokens: number | null;
  /** Admitted without the database (the key's `failOpen`): the response says so in `x-tollgate-fail-open`. */
  failOpen: boolean;
};

const DEFAULT_MIN_MAX_TOKENS = 16;

/**
 * Step 6 of the request path: one round trip that reserves the worst case against the key's
 * budget and rate window and writes the pending row. A refusal records its final row and throws
 * the OpenAI-shaped error; a key with `shrinkMaxTokens` gets one more try with the cap its
 * remaining budget pays for. When the database is unreachable, only a `failOpen` key may go ahead.
 */
export async function admit(deps: Deps, caller: Caller, request: ProxyRequest, plan: Plan, admission: Admission): Promise<Admitted> {
  let result = await tryAdmit(deps, caller, admission);
  let adjustedMaxTokens: number | null = null;
  if (!result.admitted && result.reason === 'insufficient_quota' && caller.options.shrinkMaxTokens) {
    const affordable = affordableMaxTokens(result.price, result.budget, plan.promptTokens, request.choices);
    const minimum = caller.options.minMaxTokens ?? DEFAULT_MIN_MAX_TOKENS;
    if (affordable >= minimum && affordable < plan.maxCompletionTokens) {
      adjustedMaxTokens = affordable;
      result = await tryAdmit(deps, caller, { ...admission, maxCompletionTokens: affordable * request.choices });
    }
  }
  if (result.admitted) {
    if (result.budget) deps.alerts.note(admission.keyId, result.budget, false);
    return { failOpen: false, ...result, adjustedMaxTokens };
  }
  if (result.reason === 'key_revoked') {
    throw new GatewayError(401, 'Incorrect API key provided. You can find your API key with your tollgate operator.', { code: 'invalid_api_key' });
  }
  const refusal = result.reason === 'rate_limited' ? 'rate_limit_exceeded' : 'insufficient_quota';
  deps.ledger.reject({
    requestId: admission.requestId, keyId: admission.keyId, endpoint: admission.endpoint, requestedModel: admission.requestedModel,
    routedModel: admission.routedModel, promptTokens: admission.promptTokens, stream: admission.stream, errorCode: refusal,
    startedAt: admission.startedAt, finishedAt: deps.now(),
  });
  if (result.reason === 'rate_limited') {
    const limits = [caller.options.rpm ? `${caller.options.rpm} requests` : null, caller.options.tpm ? `${caller.options.tpm} tokens` : null];
    throw new GatewayError(429, `Rate limit reached for this key: ${limits.filter(Boolean).join(' and ')} per minute. Try again in ${result.retryAfterSeconds} s.`, {
      type: 'rate_limit_error', code: 'rate_limit_exceeded', headers: { 'retry-after': String(result.retryAfterSeconds) },
    });
  }
  deps.alerts.note(admission.keyId, result.budget, true);
  throw new GatewayError(429, quotaMessage(result.budget, result.reservedCost, admission), { type: 'insufficient_quota', code: 'insufficient_quota' });
}

async function tryAdmit(deps: Deps, caller: Caller, admission: Admission): Promise<AdmitResult | Admitted> {
  try {
    return await deps.ledger.admit(admission);
  } catch (error) {
    if ((rootCause(error) as { code?: unknown } | null)?.code === '23505') {
      throw new GatewayError(409, `The request id '${admission.requestId}' was already used; send a new x-request-id (or none) for a new request.`, {
        code: 'duplicate_request_id', param: 'x-request-id',
      });
    }
    if (error instanceof LedgerUnavailableError) return admitFailOpen(deps, caller, admission);
    throw error;
  }
}

/**
 * The database is unreachable. Fail closed: no budget can be checked and no request recorded,
 * unless the key has `failOpen` and the budget this instance last saw for it covers the worst
 * case (rate limits are not checked). Its settle writes the whole row when the database returns.
 */
function admitFailOpen(deps: Deps, caller: Caller, admission: Admission): Admitted {
  const decision: FailOpenDecision | undefined = caller.options.failOpen ? deps.ledger.admitFailOpen?.(admission, { budgeted: caller.hasBudget }) : undefined;
  if (decision?.admitted) {
    return { admitted: true, price: decision.price, reservedCost: decision.reservedCost, budget: null, adjustedMaxTokens: null, failOpen: true };
  }
  const message = decision?.reason === 'over_budget'
    ? "The usage ledger is unreachable and this key's last known budget does not cover this request, so it cannot be admitted right now. Try again shortly."
    : undefined;
  throw ledgerUnavailable(message);
}

/** The largest per-choice cap the remaining money and token budget pay for, next to this prompt. */
export function affordableMaxTokens(price: Price, budget: BudgetState, promptTokens: number, choices: number): number {
  let affordable = Number.MAX_SAFE_INTEGER;
  if (budget.remainingCost !== null) {
    const perToken = price.completionPer1k / 1000n; // exact: prices are whole picodollars per token
    const promptCost = (BigInt(promptTokens) * price.promptPer1k) / 1000n;
    const left = budget.remainingCost - promptCost;
    affordable = left <= 0n ? 0 : perToken === 0n ? affordable : Number(left / (perToken * BigInt(choices)));
  }
  if (budget.remainingTokens !== null) affordable = Math.min(affordable, Math.floor((budget.remainingTokens - promptTokens) / choices));
  return Math.max(0, affordable);
}

function quotaMessage(budget: BudgetState, worstCase: Money, admission: Admission): string {
  const parts: string[] = [];
  if (budget.remainingCost !== null) {
    parts.push(`this request may cost up to $${formatUsd(worstCase)} and the key's budget has $${formatUsd(budget.remainingCost < 0n ? 0n : budget.remainingCost)} left`);
  }
  if (budget.remainingTokens !== null) {
    parts.push(`it may use up to ${admission.promptTokens + admission.maxCompletionTokens} tokens and the key's budget has ${Math.max(0, budget.remainingTokens)} tokens left`);
  }
  return `You exceeded your current quota: ${parts.join('; ')}. Lower max_tokens, or ask your operator to raise the budget.`;
}
