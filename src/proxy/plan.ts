import { type Config, type ModelConfig, modelBackends } from '../config';
import { type ContextCandidate, type ContextPolicy, contextExceededMessage, planContext } from '../context';
import { GatewayError } from '../errors';
import { type Counter, loadCounter } from '../tokenize';
import { countPrompt } from './count';
import type { ProxyRequest } from './request';

/**
 * The most tokens one request may reserve (prompts plus every completion it can generate). With
 * prices capped at $10 per 1k tokens (config), its worst case stays far inside a bigint of
 * picodollars; past it the request cannot be bounded and is refused.
 */
export const MAX_REQUEST_TOKENS = 100_000_000;

/** Where and how a request will be served, decided before anything is reserved or sent. */
export interface Plan {
  requestedModel: string;
  servedModel: string;
  served: ModelConfig;
  /** The served model's backends, as the ledger row's `backend` (the row's `replica` says which one served it). */
  backendName: string;
  /** Prompt tokens in the served model's encoding, every prompt of a batch included. */
  promptTokens: number;
  /** How many prompts the request carries (a completions batch; 1 for chat). */
  prompts: number;
  /** Per-choice completion cap forwarded upstream (0 for embeddings). */
  maxCompletionTokens: number;
  /** The most completion tokens the forwarded request can generate: cap × choices × prompts. */
  completionCap: number;
  routed: boolean;
  /** The served model's tokenizer, for counting what is relayed. */
  counter: Counter;
}

export type PlanOutcome =
  | { ok: true; plan: Plan }
  /** Refused before admission: the prompt tokens counted (every prompt of a batch) and how many prompts there were. */
  | { ok: false; error: GatewayError; promptTokens: number; prompts: number };

export function resolveModel(config: Config, name: string): ModelConfig {
  // Own properties only: a model named `__proto__` or `constructor` is just unknown.
  const model = Object.hasOwn(config.models, name) ? config.models[name] : undefined;
  if (!model) {
    throw new GatewayError(404, `The model '${name}' does not exist or you do not have access to it.`, {
      code: 'model_not_found',
      param: 'model',
    });
  }
  return model;
}

interface Counted extends ContextCandidate {
  perPrompt: number[];
  counter: Counter;
}

async function counted(name: string, model: ModelConfig, request: ProxyRequest): Promise<Counted> {
  const counter = await loadCounter(model.encoding);
  const { perPrompt } = await countPrompt(counter, request, name);
  // The context check is per prompt: the longest one must fit with its completion.
  return { name, model, promptTokens: Math.max(...perPrompt), perPrompt, counter };
}

/** Resolve, count, and apply the context policy (steps 3–5 of the request path). */
export async function planRequest(
  config: Config,
  request: ProxyRequest,
  policy: ContextPolicy,
  defaultMaxTokens?: number,
): Promise<PlanOutcome> {
  const requested = resolveModel(config, request.model);
  const first = await counted(request.model, requested, request);
  const candidates: Counted[] = [first];
  // Count for the extended variant only when it might be needed.
  const overflows = first.promptTokens + (request.requestedMaxTokens || 1) > requested.contextWindow;
  if (overflows && requested.extended) {
    const extended = resolveModel(config, requested.extended);
    const sameEncoding = extended.encoding === requested.encoding;
    candidates.push(
      policy === 'route' && !sameEncoding
        ? await counted(requested.extended, extended, request)
        : { ...first, name: requested.extended, model: extended },
    );
  }

  const decision = planContext(candidates, request.requestedMaxTokens, policy, defaultMaxTokens);
  const totalOf = (c: Counted) => c.perPrompt.reduce((sum, tokens) => sum + tokens, 0);
  if (!decision.fits) {
    const error = new GatewayError(400, contextExceededMessage(decision, request.requestedMaxTokens), {
      code: 'context_length_exceeded',
      param: paramOf(request),
    });
    return { ok: false, error, promptTokens: totalOf(first), prompts: first.perPrompt.length };
  }
  const served = candidates.find((candidate) => candidate.name === decision.served.name)!;
  const prompts = served.perPrompt.length;
  const promptTokens = totalOf(served);
  const completionCap = decision.maxCompletionTokens * request.choices * prompts;
  if (promptTokens + completionCap > MAX_REQUEST_TOKENS) {
    const error = new GatewayError(
      400,
      `This request could make the backend read and generate up to ${promptTokens + completionCap} tokens (${prompts} prompt(s) × ${request.choices} choice(s) × ${decision.maxCompletionTokens} completion tokens, plus ${promptTokens} prompt tokens), more than the ${MAX_REQUEST_TOKENS} one request may reserve. Split it.`,
      { code: 'request_too_large', param: paramOf(request) },
    );
    return { ok: false, error, promptTokens, prompts };
  }
  return {
    ok: true,
    plan: {
      requestedModel: request.model,
      servedModel: served.name,
      served: served.model,
      backendName: modelBackends(served.model).join(','),
      promptTokens,
      prompts,
      maxCompletionTokens: decision.maxCompletionTokens,
      completionCap,
      routed: decision.routed,
      counter: served.counter,
    },
  };
}

const paramOf = (request: ProxyRequest) =>
  request.endpoint === 'chat.completions' ? 'messages' : request.endpoint === 'completions' ? 'prompt' : 'input';

/**
 * The body sent upstream: the client's, with the served model name and the checked cap in every
 * field a backend reads it from (completions backends read only `max_tokens`; chat backends read
 * `max_completion_tokens` first, then `max_tokens`), so no backend can generate past it.
 */
export function upstreamBody(request: ProxyRequest, plan: Plan): Record<string, unknown> {
  const body: Record<string, unknown> = { ...request.body, model: plan.served.upstreamModel ?? plan.servedModel };
  if (request.endpoint !== 'embeddings') {
    body.max_tokens = plan.maxCompletionTokens;
    if (request.endpoint === 'chat.completions' && request.maxTokensField === 'max_completion_tokens')
      body.max_completion_tokens = plan.maxCompletionTokens;
    else delete body.max_completion_tokens;
  }
  if (request.stream) {
    const options = typeof body.stream_options === 'object' && body.stream_options !== null ? body.stream_options : {};
    body.stream_options = { ...options, include_usage: true };
  }
  return body;
}
