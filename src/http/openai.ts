import type { Context, Hono } from 'hono';
import type { ContextPolicy } from '../context';
import type { Caller, Deps, HonoEnv } from '../deps';
import { badRequest, GatewayError, ledgerUnavailable } from '../errors';
import { type Endpoint, LedgerUnavailableError, Meter } from '../ledger';
import { formatUsd } from '../pricing';
import { admit, rateLimitError } from '../proxy/admit';
import { sendUpstream } from '../proxy/attempts';
import { type PlanOutcome, planRequest, upstreamBody } from '../proxy/plan';
import { type Exchange, relayJson, relayStream, relayUpstreamError } from '../proxy/relay';
import { type ProxyRequest, parseProxyRequest, UPSTREAM_PATH } from '../proxy/request';
import { traceContext } from '../proxy/trace';
import { ClientGoneError, type UpstreamExchange } from '../proxy/upstream';
import { getKey } from '../store/keys';
import { readJson } from './body';
import type { RateGate } from './rate-gate';
import { parseTags } from './tags';

/** The OpenAI-compatible surface: proxied endpoints and the model list. */
export function registerOpenAiRoutes(app: Hono<HonoEnv>, gate: RateGate): void {
  app.post('/v1/chat/completions', (c) => proxy(c, 'chat.completions', gate));
  app.post('/v1/completions', (c) => proxy(c, 'completions', gate));
  app.post('/v1/embeddings', (c) => proxy(c, 'embeddings', gate));
  app.get('/v1/models', (c) => {
    const created = Math.floor(Date.parse('2024-01-01T00:00:00Z') / 1000);
    const data = Object.entries(c.get('deps').config.models)
      .filter(([id]) => allowsModel(keyCaller(c), id))
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

/** The caller of a /v1 route: always a key (requireScope('proxy') refuses the operator token). */
export function keyCaller(c: Context<HonoEnv>): Extract<Caller, { kind: 'key' }> {
  const caller = c.get('caller');
  if (caller.kind !== 'key')
    throw new GatewayError(403, 'The operator token cannot call /v1; create an API key with the proxy scope.', {
      code: 'insufficient_scope',
    });
  return caller;
}

export function contextPolicyOf(c: Context<HonoEnv>): ContextPolicy {
  const header = c.get('deps').io.header(c, 'x-tollgate-context-policy');
  if (header !== undefined) {
    if (header !== 'route' && header !== 'reject') {
      throw badRequest(
        "Invalid 'x-tollgate-context-policy' header: expected 'route' or 'reject'.",
        'x-tollgate-context-policy',
        'invalid_value',
      );
    }
    return header;
  }
  return keyCaller(c).options.contextPolicy ?? c.get('deps').config.gateway.contextPolicy;
}

/** A budgeted key's request without max_tokens reserves a bounded cap, not the rest of the window. */
export function defaultMaxTokensOf(c: Context<HonoEnv>): number | undefined {
  const caller = keyCaller(c);
  return caller.options.defaultMaxTokens ?? (caller.hasBudget ? c.get('deps').config.gateway.budgetDefaultMaxTokens : undefined);
}

function allowsModel(caller: { allowedModels: readonly string[] | null }, model: string): boolean {
  return caller.allowedModels === null || caller.allowedModels.includes(model);
}

export async function parseFor(c: Context<HonoEnv>, endpoint: Endpoint, json: unknown): Promise<ProxyRequest> {
  const request = parseProxyRequest(endpoint, json);
  const caller = keyCaller(c);
  if (!allowsModel(caller, request.model) && !(await allowedNow(c.get('deps'), caller.keyId, request.model))) {
    throw new GatewayError(403, `This key may not use the model '${request.model}'.`, { code: 'model_not_allowed', param: 'model' });
  }
  return request;
}

/**
 * The cached auth refused the model, but it may predate a change (on any instance) that allowed
 * it: the key row itself decides, and a stale entry is dropped. When the database cannot say,
 * the cached refusal stands.
 */
async function allowedNow(deps: Deps, keyId: string, model: string): Promise<boolean> {
  const key = await getKey(deps.store, keyId).catch(() => null);
  if (!key || !allowsModel(key, model)) return false;
  deps.forgetKey(keyId);
  return true;
}

/**
 * Counts one request that reserves nothing (an estimate, a context refusal) against the key's
 * rpm; past it, the key's requests are refused here until the minute ends. A database outage
 * does not turn a 400 into a 503: the count is skipped then.
 */
export async function meterRate(
  deps: Deps,
  gate: RateGate,
  keyId: string,
  requestId: string,
  startedAt: Date,
): Promise<GatewayError | null> {
  try {
    const result = await deps.ledger.meterRate({ requestId, keyId, startedAt });
    if (result.ok) return null;
    gate.close(keyId, result, deps.clock());
    return rateLimitError(result);
  } catch (error) {
    if (error instanceof LedgerUnavailableError) return null;
    throw error;
  }
}

async function proxy(c: Context<HonoEnv>, endpoint: Endpoint, gate: RateGate): Promise<Response> {
  // c.get, not c.var: c.var copies every variable into a new object on each access.
  const deps = c.get('deps');
  const caller = keyCaller(c);
  const requestId = c.get('requestId');
  const refused = gate.check(caller.keyId, deps.clock());
  if (refused) throw rateLimitError(refused);
  const started = deps.clock();
  const startedAt = deps.now();
  const request = await parseFor(c, endpoint, await readJson(c));
  const header = (name: string) => deps.io.header(c, name);
  const trace = traceContext(header('traceparent'), header('tracestate'));
  const meter = new Meter(
    deps.ledger,
    {
      requestId,
      keyId: caller.keyId,
      endpoint,
      requestedModel: request.model,
      stream: request.stream,
      startedAt,
      tags: parseTags(header('x-tollgate-tags'), request.user, deps.config),
      teamId: caller.teamId,
      instanceId: deps.instanceId,
      failOpen: caller.options.failOpen ? { budgeted: caller.hasBudget } : null,
      traceparent: trace.traceparent,
      clientRequestId: header('x-request-id') === requestId,
    },
    deps,
  );

  // Refused after counting (context, size) or part-way through it (input that cannot be counted):
  // the counting was work, so the refusal counts against rpm and is recorded.
  const refuse = async (error: GatewayError, promptTokens: number | null) => {
    const rateError = await meterRate(deps, gate, caller.keyId, requestId, startedAt);
    meter.reject(rateError ? 'rate_limit_exceeded' : (error.code ?? 'rejected'), { promptTokens });
    return rateError ?? error;
  };
  const policy = contextPolicyOf(c);
  const defaultMaxTokens = defaultMaxTokensOf(c);
  let outcome: PlanOutcome;
  try {
    outcome = await planRequest(deps.config, request, policy, defaultMaxTokens);
  } catch (error) {
    if (error instanceof GatewayError && error.code === 'uncountable_input') throw await refuse(error, null);
    throw error;
  }
  if (!outcome.ok) throw await refuse(outcome.error, outcome.promptTokens);
  const admitted = await admit(
    meter,
    {
      noteBudget: (keyId, state, refused) => deps.alerts.note(keyId, state, refused),
      forgetKey: deps.forgetKey,
      closeRateGate: (keyId, refusal) => gate.close(keyId, refusal, deps.clock()),
    },
    caller,
    request,
    outcome.plan,
  );
  const plan = admitted.plan;

  const headers: Record<string, string> = { 'x-request-id': requestId, 'x-tollgate-prompt-tokens': String(plan.promptTokens) };
  if (plan.routed) headers['x-tollgate-routed-model'] = plan.servedModel;
  if (admitted.budget?.remainingCost != null) headers['x-tollgate-budget-remaining'] = formatUsd(admitted.budget.remainingCost);
  if (admitted.failOpen) headers['x-tollgate-fail-open'] = '1';
  if (admitted.adjustedMaxTokens !== null) headers['x-tollgate-max-tokens-adjusted'] = String(admitted.adjustedMaxTokens);
  const exchange: Exchange = { meter, request, plan, headers, startedAt: started };

  const signal = deps.io.clientSignal(c);
  let upstream: UpstreamExchange;
  try {
    // Replicas, health, retries and the saturation queue: each attempt reports to the meter.
    upstream = await sendUpstream({
      route: deps.backends.route(plan.servedModel)!,
      keyId: caller.keyId,
      path: UPSTREAM_PATH[endpoint],
      body: JSON.stringify(upstreamBody(request, plan)),
      requestId,
      traceparent: trace.traceparent,
      tracestate: trace.tracestate,
      // A stream stops when its client leaves (waiting for a replica too); a non-streamed answer is read to its end and billed.
      clientSignal: request.stream ? signal : null,
      client: deps.upstream,
      meter,
    });
  } catch (error) {
    const gone = error instanceof ClientGoneError;
    const timeout = error instanceof GatewayError && error.status === 504;
    await meter.finish({
      status: gone ? 'client_disconnected' : timeout ? 'timeout' : 'upstream_error',
      reported: null,
      relayed: [],
      // Past the deadline, or left by its client once the backend had it, the prompt may well have been
      // read (prefill is the costly part); refused or reset before any answer, or left in the queue, it was not.
      promptRead: timeout || (gone && error.reachedBackend),
      errorCode: error instanceof GatewayError ? error.code : 'client_disconnected',
    });
    if (gone) return new Response(null, { status: 499 });
    throw error;
  }
  if (upstream.reply.status < 200 || upstream.reply.status >= 300) return deps.io.respond(c, await relayUpstreamError(exchange, upstream));
  return deps.io.respond(c, request.stream ? relayStream(exchange, upstream, signal) : await relayJson(exchange, upstream, signal));
}

export { ledgerUnavailable };
