import type { BackendConfig, Config, ModelConfig } from '../config';
import { contextExceededMessage, planContext, type ContextCandidate, type ContextPolicy } from '../context';
import { GatewayError } from '../errors';
import { countChatPrompt, countTextInput, loadCounter } from '../tokenize';
import type { ProxyRequest } from './request';

/** Where and how a request will be served, decided before anything is reserved or sent. */
export interface Plan {
  requestedModel: string;
  servedModel: string;
  served: ModelConfig;
  backendName: string;
  backend: BackendConfig;
  /** Prompt tokens in the served model's encoding. */
  promptTokens: number;
  /** Per-choice completion cap forwarded upstream (0 for embeddings). */
  maxCompletionTokens: number;
  routed: boolean;
}

export type PlanOutcome =
  | { ok: true; plan: Plan }
  | { ok: false; error: GatewayError; promptTokens: number };

/** Counts a request's prompt in one model's encoding. */
export async function countPrompt(modelName: string, model: ModelConfig, request: ProxyRequest): Promise<number> {
  const counter = await loadCounter(model.encoding);
  const body = request.body;
  if (request.endpoint === 'chat.completions') {
    return countChatPrompt(
      counter,
      {
        messages: body.messages as unknown[],
        tools: Array.isArray(body.tools) ? body.tools : undefined,
        functions: Array.isArray(body.functions) ? body.functions : undefined,
      },
      modelName,
    );
  }
  return countTextInput(counter, request.endpoint === 'completions' ? body.prompt : body.input);
}

export function resolveModel(config: Config, name: string): ModelConfig {
  const model = config.models[name];
  if (!model) {
    throw new GatewayError(404, `The model '${name}' does not exist or you do not have access to it.`, { code: 'model_not_found', param: 'model' });
  }
  return model;
}

/** Resolve, count, and apply the context policy (steps 3–5 of the request path). */
export async function planRequest(
  config: Config,
  request: ProxyRequest,
  policy: ContextPolicy,
  defaultMaxTokens?: number,
): Promise<PlanOutcome> {
  const requested = resolveModel(config, request.model);
  const candidates: ContextCandidate[] = [
    { name: request.model, model: requested, promptTokens: await countPrompt(request.model, requested, request) },
  ];
  const first = candidates[0]!;
  // Count for the extended variant only when it might be needed.
  const overflows = first.promptTokens + (request.requestedMaxTokens ?? 1) > requested.contextWindow;
  if (overflows && requested.extended && policy === 'route') {
    const extended = resolveModel(config, requested.extended);
    const promptTokens =
      extended.encoding === requested.encoding ? first.promptTokens : await countPrompt(requested.extended, extended, request);
    candidates.push({ name: requested.extended, model: extended, promptTokens });
  } else if (overflows && requested.extended) {
    const extended = config.models[requested.extended];
    if (extended) candidates.push({ name: requested.extended, model: extended, promptTokens: first.promptTokens });
  }

  const decision = planContext(candidates, request.requestedMaxTokens, policy, defaultMaxTokens);
  if (!decision.fits) {
    const error = new GatewayError(400, contextExceededMessage(decision, request.requestedMaxTokens), {
      code: 'context_length_exceeded',
      param: 'messages',
    });
    return { ok: false, error, promptTokens: first.promptTokens };
  }
  const served = decision.served;
  const backend = config.backends[served.model.backend]!;
  return {
    ok: true,
    plan: {
      requestedModel: request.model,
      servedModel: served.name,
      served: served.model,
      backendName: served.model.backend,
      backend,
      promptTokens: served.promptTokens,
      maxCompletionTokens: decision.maxCompletionTokens,
      routed: decision.routed,
    },
  };
}

/** The body sent upstream: the client's, with the served model name and the checked cap. */
export function upstreamBody(request: ProxyRequest, plan: Plan): Record<string, unknown> {
  const body: Record<string, unknown> = { ...request.body, model: plan.served.upstreamModel ?? plan.servedModel };
  if (request.endpoint !== 'embeddings') {
    body[request.maxTokensField] = plan.maxCompletionTokens;
    // Both fields set would let a backend pick the looser one.
    if (request.maxTokensField === 'max_completion_tokens') delete body.max_tokens;
  }
  if (request.stream) {
    const options = typeof body.stream_options === 'object' && body.stream_options !== null ? body.stream_options : {};
    body.stream_options = { ...options, include_usage: true };
  }
  return body;
}
