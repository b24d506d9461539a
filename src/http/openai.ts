import type { Context, Hono } from 'hono';
import type { ContextPolicy } from '../context';
import type { HonoEnv } from '../deps';
import { GatewayError, badRequest } from '../errors';
import { formatUsd } from '../pricing';
import { parseProxyRequest, UPSTREAM_PATH, type ProxyRequest } from '../proxy/request';
import { planRequest, upstreamBody } from '../proxy/plan';
import { callUpstream, ClientGoneError } from '../proxy/upstream';
import { relayJson, relayStream, relayUpstreamError, type Exchange } from '../proxy/relay';
import { admit } from '../proxy/admit';
import type { Endpoint } from '../usage/types';
import { readJson } from './body';
import { clientSignal } from './incoming';

/** The OpenAI-compatible surface: proxied endpoints and the model list. */
export function registerOpenAiRoutes(app: Hono<HonoEnv>): void {
  app.post('/v1/chat/completions', (c) => proxy(c, 'chat.completions'));
  app.post('/v1/completions', (c) => proxy(c, 'completions'));
  app.post('/v1/embeddings', (c) => proxy(c, 'embeddings'));
  app.get('/v1/models', (c) => {
    const created = Math.floor(Date.parse('2024-01-01T00:00:00Z') / 1000);
    const data = Object.entries(c.var.deps.config.models)
      .filter(([id]) => allowsModel(c, id))
      .map(([id, model]) => ({
        id,
        object: 'model',
        created,
        owned_by: 'tollgate',
        context_window: model.contextWindow,
        max_model_len: model.contextWindow,
        ...(model.extended ? { extended: model.extended } : {}),
      }));
    return c.json({ object: 'list', data });
  });
}

export function contextPolicyOf(c: Context<HonoEnv>): ContextPolicy {
  const header = c.req.header('x-tollgate-context-policy');
  if (header !== undefined) {
    if (header !== 'route' && header !== 'reject') {
      throw badRequest("Invalid 'x-tollgate-context-policy' header: expected 'route' or 'reject'.", 'x-tollgate-context-policy', 'invalid_value');
    }
    return header;
  }
  return c.get('caller').options.contextPolicy ?? c.get('deps').config.gateway.contextPolicy;
}

/** A budgeted key's request without max_tokens reserves a bounded cap, not the rest of the window. */
export function defaultMaxTokensOf(c: Context<HonoEnv>): number | undefined {
  const caller = c.get('caller');
  const deps = c.get('deps');
  return caller.options.defaultMaxTokens ?? (caller.hasBudget ? deps.config.gateway.budgetDefaultMaxTokens : undefined);
}

function allowsModel(c: Context<HonoEnv>, model: string): boolean {
  const allowed = c.get('caller').allowedModels;
  return allowed === null || allowed.includes(model);
}

export function parseFor(c: Context<HonoEnv>, endpoint: Endpoint, json: unknown): ProxyRequest {
  const request = parseProxyRequest(endpoint, json);
  if (!allowsModel(c, request.model)) {
    throw new GatewayError(403, `This key may not use the model '${request.model}'.`, { code: 'model_not_allowed', param: 'model' });
  }
  return request;
}

async function proxy(c: Context<HonoEnv>, endpoint: Endpoint): Promise<Response> {
  // c.get, not c.var: c.var copies every variable into a new object on each access.
  const deps = c.get('deps');
  const caller = c.get('caller');
  const requestId = c.get('requestId');
  const startedAt = performance.now();
  const startedAtDate = deps.now();
  const request = parseFor(c, endpoint, await readJson(c));
  const keyId = caller.keyId!;

  const outcome = await planRequest(deps.config, request, contextPolicyOf(c), defaultMaxTokensOf(c));
  if (!outcome.ok) {
    deps.ledger.reject({
      requestId, keyId, endpoint, requestedModel: request.model, routedModel: null, promptTokens: outcome.promptTokens,
      stream: request.stream, errorCode: outcome.error.code ?? 'rejected', startedAt: startedAtDate, finishedAt: deps.now(),
    });
    throw outcome.error;
  }
  let plan = outcome.plan;
  const admitted = await admit(deps, caller, request, plan, {
    requestId, keyId, endpoint, requestedModel: request.model, routedModel: plan.servedModel, backend: plan.backendName,
    promptTokens: plan.promptTokens, maxCompletionTokens: plan.maxCompletionTokens * request.choices,
    stream: request.stream, startedAt: startedAtDate,
    rateLimits: { rpm: caller.options.rpm ?? null, tpm: caller.options.tpm ?? null },
  });

  const headers: Record<string, string> = { 'x-tollgate-prompt-tokens': String(plan.promptTokens) };
  if (plan.routed) headers['x-tollgate-routed-model'] = plan.servedModel;
  if (admitted.budget?.remainingCost != null) headers['x-tollgate-budget-remaining'] = formatUsd(admitted.budget.remainingCost);
  if (admitted.failOpen) headers['x-tollgate-fail-open'] = '1';
  if (admitted.adjustedMaxTokens !== null) {
    plan = { ...plan, maxCompletionTokens: admitted.adjustedMaxTokens };
    headers['x-tollgate-max-tokens-adjusted'] = String(admitted.adjustedMaxTokens);
  }
  const exchange: Exchange = {
    requestId, request, plan, price: admitted.price, startedAt, headers,
    settle: (settlement) => deps.ledger.settle(settlement),
    now: deps.now,
  };

  const signal = clientSignal(c);
  let upstream;
  try {
    upstream = await callUpstream({
      backend: plan.backend, backendName: plan.backendName, path: UPSTREAM_PATH[endpoint], body: upstreamBody(request, plan),
      requestId, clientSignal: signal, fetch: deps.fetch,
    });
  } catch (error) {
    const status = error instanceof ClientGoneError ? 'client_disconnected' : error instanceof GatewayError && error.status === 504 ? 'timeout' : 'upstream_error';
    const code = error instanceof GatewayError ? error.code : 'client_disconnected';
    deps.ledger.settle({
      requestId, status, promptTokens: 0, completionTokens: 0, usageSource: 'none', completionTokensEstimated: null, billedCost: 0n,
      latencyMs: Math.round(performance.now() - startedAt), ttftMs: null, errorCode: code, finishedAt: deps.now(),
    });
    if (error instanceof ClientGoneError) return new Response(null, { status: 499 });
    throw error;
  }
  if (!upstream.response.ok) return relayUpstreamError(exchange, upstream);
  return request.stream ? relayStream(exchange, upstream, signal) : relayJson(exchange, upstream, signal);
}
