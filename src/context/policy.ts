import type { ModelConfig } from '../config';

export type ContextPolicy = 'route' | 'reject';

/** One model the request may be served by, with the prompt counted in that model's encoding. */
export interface ContextCandidate {
  name: string;
  model: ModelConfig;
  promptTokens: number;
}

export type ContextDecision =
  | { fits: true; served: ContextCandidate; maxCompletionTokens: number; routed: boolean }
  | { fits: false; requested: ContextCandidate; window: number; totalTokens: number; extendedWouldFit: boolean };

/**
 * Decides where a request fits. `requestedMaxTokens` undefined means "the rest of the window",
 * capped by `defaultMaxTokens` when given, so the forwarded value always bounds what the
 * backend may generate.
 *
 * @example planContext([gpt4, gpt4_32k], 1000, 'route') // routes to gpt4_32k when gpt4 overflows
 */
export function planContext(
  candidates: readonly ContextCandidate[],
  requestedMaxTokens: number | undefined,
  policy: ContextPolicy,
  defaultMaxTokens?: number,
): ContextDecision {
  const [requested, ...extended] = candidates;
  if (!requested) throw new Error('planContext needs at least the requested model');
  const allowed = policy === 'route' ? candidates : [requested];
  for (const candidate of allowed) {
    const window = candidate.model.contextWindow;
    const room = window - candidate.promptTokens;
    if (requestedMaxTokens === undefined) {
      // No cap requested: the rest of the window, so long as at least one token can be generated.
      if (room >= 1) {
        const cap = defaultMaxTokens !== undefined ? Math.min(room, defaultMaxTokens) : room;
        return { fits: true, served: candidate, maxCompletionTokens: cap, routed: candidate !== requested };
      }
    } else if (candidate.promptTokens + requestedMaxTokens <= window) {
      return { fits: true, served: candidate, maxCompletionTokens: requestedMaxTokens, routed: candidate !== requested };
    }
  }
  const completion = requestedMaxTokens ?? 1;
  const extendedWouldFit = extended.some((c) => c.promptTokens + completion <= c.model.contextWindow);
  return {
    fits: false,
    requested,
    window: requested.model.contextWindow,
    totalTokens: requested.promptTokens + (requestedMaxTokens ?? 0),
    extendedWouldFit,
  };
}

/** OpenAI's wording for an over-long request, with both numbers. */
export function contextExceededMessage(
  decision: Extract<ContextDecision, { fits: false }>,
  requestedMaxTokens: number | undefined,
): string {
  const { requested, window } = decision;
  const completion = requestedMaxTokens ?? 0;
  return (
    `This model's maximum context length is ${window} tokens. However, you requested ` +
    `${requested.promptTokens + completion} tokens (${requested.promptTokens} in the messages, ${completion} in the completion). ` +
    `Please reduce the length of the messages or completion.` +
    (decision.extendedWouldFit
      ? ` The extended-context model "${requested.model.extended}" would fit; it was not used because the context policy is "reject".`
      : '')
  );
}
