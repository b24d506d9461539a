import type { Hono } from 'hono';
import type { Deps, HonoEnv } from '../deps';
import { badRequest } from '../errors';
import type { Endpoint } from '../ledger';
import { type Cost, costOf, formatUsd } from '../pricing';
import { rateLimitError } from '../proxy/admit';
import { planRequest } from '../proxy/plan';
import { isRecord } from '../proxy/shape';
import { budgetStatus } from '../store/budgets';
import { readJson } from './body';
import { contextPolicyOf, defaultMaxTokensOf, keyCaller, meterRate, parseFor } from './openai';
import type { RateGate } from './rate-gate';

const costView = (cost: Cost) => ({
  prompt: formatUsd(cost.prompt),
  completionMax: formatUsd(cost.completion),
  total: formatUsd(cost.total),
});

/** The key's budget left now (by the same window rule as admission), and whether a worst case of `cost` and `tokens` fits in it. */
async function budgetAnswer(deps: Deps, keyId: string, cost: Cost, tokens: number) {
  const status = await budgetStatus(deps.store, keyId, deps.now());
  if (!status) return { budgetRemaining: null, budgetRemainingTokens: null, admitted: true };
  const { budget } = status;
  const remaining = budget.limitCost === null ? null : budget.limitCost - status.spentCost - status.reservedCost;
  const remainingTokens = budget.limitTokens === null ? null : Number(budget.limitTokens) - status.spentTokens - status.reservedTokens;
  const admitted = (remaining === null || remaining >= cost.total) && (remainingTokens === null || remainingTokens >= tokens);
  return { budgetRemaining: remaining === null ? null : formatUsd(remaining), budgetRemainingTokens: remainingTokens, admitted };
}

/**
 * `POST /v1/estimate`: what a request would count, cost and where it would go, without calling
 * the backend. It is counted like a request, so it counts against the key's rpm (not its spend)
 * and has a body limit of its own.
 */
export function registerEstimateRoute(app: Hono<HonoEnv>, gate: RateGate): void {
  app.post('/v1/estimate', async (c) => {
    const deps = c.get('deps');
    const caller = keyCaller(c);
    const refused = gate.check(caller.keyId, deps.clock());
    if (refused) throw rateLimitError(refused);
    const json = await readJson(c);
    if (!isRecord(json)) throw badRequest('The request body must be a JSON object.');
    const limited = await meterRate(deps, gate, caller.keyId, c.get('requestId'), deps.now());
    if (limited) throw limited;
    const endpoint: Endpoint =
      'messages' in json ? 'chat.completions' : 'prompt' in json ? 'completions' : 'input' in json ? 'embeddings' : 'chat.completions';
    // The same parsing and planning as the proxy, so the two answers cannot drift apart.
    const request = await parseFor(c, endpoint, json);
    const outcome = await planRequest(deps.config, request, contextPolicyOf(c), defaultMaxTokensOf(c));
    if (!outcome.ok) {
      const model = deps.config.models[request.model]!;
      const price = await deps.currentPrice(request.model, deps.now());
      const completionMax = request.requestedMaxTokens ?? 0;
      // Every choice of every prompt, as for a request that fits.
      const completionTokensMax = completionMax * request.choices * outcome.prompts;
      const cost = costOf(price, { promptTokens: outcome.promptTokens, completionTokens: completionTokensMax });
      return c.json({
        model: request.model,
        promptTokens: outcome.promptTokens,
        maxCompletionTokens: completionMax,
        completionTokensMax,
        contextWindow: model.contextWindow,
        fits: false,
        routedModel: null,
        cost: costView(cost),
        budgetRemaining: null,
        budgetRemainingTokens: null,
        admitted: false,
        error: outcome.error.toJSON().error,
      });
    }
    const { plan } = outcome;
    const price = await deps.currentPrice(plan.servedModel, deps.now());
    const cost = costOf(price, { promptTokens: plan.promptTokens, completionTokens: plan.completionCap });
    return c.json({
      model: request.model,
      promptTokens: plan.promptTokens,
      maxCompletionTokens: plan.maxCompletionTokens,
      /** Everything the request can make the backend generate: the cap × choices × prompts. */
      completionTokensMax: plan.completionCap,
      contextWindow: plan.served.contextWindow,
      fits: true,
      routedModel: plan.servedModel,
      cost: costView(cost),
      ...(await budgetAnswer(deps, caller.keyId, cost, plan.promptTokens + plan.completionCap)),
    });
  });
}
