import type { Hono } from 'hono';
import type { Deps, HonoEnv } from '../deps';
import { badRequest } from '../errors';
import { costOf, formatUsd, parseUsd, type Cost } from '../pricing';
import { planRequest } from '../proxy/plan';
import { isRecord } from '../proxy/usage';
import { getBudget } from '../store/budgets';
import type { Endpoint } from '../usage/types';
import { budgetView } from './admin-budgets';
import { readJson } from './body';
import { contextPolicyOf, defaultMaxTokensOf, parseFor } from './openai';

const costView = (cost: Cost) => ({ prompt: formatUsd(cost.prompt), completionMax: formatUsd(cost.completion), total: formatUsd(cost.total) });

/** The key's budget left now, and whether a worst case of `cost` and `tokens` fits in it. */
async function budgetAnswer(deps: Deps, keyId: string | null, cost: Cost, tokens: number) {
  const budget = keyId ? await getBudget(deps.store, keyId) : null;
  if (!budget) return { budgetRemaining: null, budgetRemainingTokens: null, admitted: true };
  const view = await budgetView(deps.store, budget, deps.now());
  const admitted =
    (view.remaining === null || parseUsd(view.remaining) >= cost.total) &&
    (view.remainingTokens === null || view.remainingTokens >= tokens);
  return { budgetRemaining: view.remaining, budgetRemainingTokens: view.remainingTokens, admitted };
}

/** `POST /v1/estimate`: what a request would count, cost and where it would go, without calling the backend. */
export function registerEstimateRoute(app: Hono<HonoEnv>): void {
  app.post('/v1/estimate', async (c) => {
    const deps = c.get('deps');
    const caller = c.get('caller');
    const json = await readJson(c);
    if (!isRecord(json)) throw badRequest('The request body must be a JSON object.');
    const endpoint: Endpoint = 'messages' in json ? 'chat.completions' : 'prompt' in json ? 'completions' : 'input' in json ? 'embeddings' : 'chat.completions';
    // The same parsing and planning as the proxy, so the two answers cannot drift apart.
    const request = parseFor(c, endpoint, json);
    const outcome = await planRequest(deps.config, request, contextPolicyOf(c), defaultMaxTokensOf(c));
    if (!outcome.ok) {
      const model = deps.config.models[request.model]!;
      const price = await deps.currentPrice(request.model, deps.now());
      const completionMax = request.requestedMaxTokens ?? 0;
      const cost = costOf(price, { promptTokens: outcome.promptTokens, completionTokens: completionMax * request.choices });
      return c.json({
        model: request.model, promptTokens: outcome.promptTokens, maxCompletionTokens: completionMax, contextWindow: model.contextWindow,
        fits: false, routedModel: null, cost: costView(cost), budgetRemaining: null, budgetRemainingTokens: null, admitted: false,
        error: outcome.error.toJSON().error,
      });
    }
    const { plan } = outcome;
    const price = await deps.currentPrice(plan.servedModel, deps.now());
    const completionMax = plan.maxCompletionTokens * request.choices;
    const cost = costOf(price, { promptTokens: plan.promptTokens, completionTokens: completionMax });
    return c.json({
      model: request.model,
      promptTokens: plan.promptTokens,
      maxCompletionTokens: plan.maxCompletionTokens,
      contextWindow: plan.served.contextWindow,
      fits: true,
      routedModel: plan.servedModel,
      cost: costView(cost),
      ...(await budgetAnswer(deps, caller.keyId, cost, plan.promptTokens + completionMax)),
    });
  });
}
