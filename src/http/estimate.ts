import type { Hono } from 'hono';
import type { HonoEnv } from '../deps';
import { badRequest } from '../errors';
import { costOf, formatUsd } from '../pricing';
import { planRequest } from '../proxy/plan';
import { isRecord } from '../proxy/usage';
import type { Endpoint } from '../usage/types';
import { readJson } from './body';
import { contextPolicyOf, parseFor } from './openai';

/** `POST /v1/estimate`: what a request would count, cost and where it would go, without calling the backend. */
export function registerEstimateRoute(app: Hono<HonoEnv>): void {
  app.post('/v1/estimate', async (c) => {
    const { deps } = c.var;
    const json = await readJson(c);
    if (!isRecord(json)) throw badRequest('The request body must be a JSON object.');
    const endpoint: Endpoint = 'messages' in json ? 'chat.completions' : 'prompt' in json ? 'completions' : 'input' in json ? 'embeddings' : 'chat.completions';
    // The same parsing and planning as the proxy, so the two answers cannot drift apart.
    const request = parseFor(c, endpoint, json);
    const outcome = await planRequest(deps.config, request, contextPolicyOf(c));
    if (!outcome.ok) {
      const model = deps.config.models[request.model]!;
      const price = await deps.currentPrice(request.model, deps.now());
      const completionMax = request.requestedMaxTokens ?? 0;
      const cost = costOf(price, { promptTokens: outcome.promptTokens, completionTokens: completionMax * request.choices });
      return c.json({
        model: request.model, promptTokens: outcome.promptTokens, maxCompletionTokens: completionMax, contextWindow: model.contextWindow,
        fits: false, routedModel: null, cost: { prompt: formatUsd(cost.prompt), completionMax: formatUsd(cost.completion), total: formatUsd(cost.total) },
        error: outcome.error.toJSON().error,
      });
    }
    const { plan } = outcome;
    const price = await deps.currentPrice(plan.servedModel, deps.now());
    const cost = costOf(price, { promptTokens: plan.promptTokens, completionTokens: plan.maxCompletionTokens * request.choices });
    return c.json({
      model: request.model,
      promptTokens: plan.promptTokens,
      maxCompletionTokens: plan.maxCompletionTokens,
      contextWindow: plan.served.contextWindow,
      fits: true,
      routedModel: plan.servedModel,
      cost: { prompt: formatUsd(cost.prompt), completionMax: formatUsd(cost.completion), total: formatUsd(cost.total) },
    });
  });
}
