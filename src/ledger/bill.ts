import type { UsageNote, UsageSource } from './statuses';

/** The reservation's bound: the most a request can be billed, prompt and completion apart. */
export interface Caps {
  promptTokens: number;
  completionTokens: number;
}

/** What the gateway knows when a request ends. */
export interface Evidence {
  /** The backend's final usage (never a per-chunk running figure), when it sent one. */
  reported: { promptTokens: number; completionTokens: number } | null;
  /** Completion tokens the gateway relayed to the client (or received for it), by its own count. */
  relayedTokens: number;
  /** The backend can have read the prompt: it answered, it ran out of time, or the client left while it worked. */
  promptRead: boolean;
}

export interface Bill {
  promptTokens: number;
  completionTokens: number;
  usageSource: UsageSource;
  usageNote: UsageNote | null;
}

/**
 * What a request is billed. The backend's usage when it is consistent with the evidence: at
 * least what was relayed, within the caps the reservation bounded, a prompt if there was one.
 * Otherwise the gateway's own count: the prompt it counted (if the backend can have read it) and
 * what it relayed, capped. So a bill is never above the reservation's caps and never below what
 * the client received, whatever a backend reports.
 *
 * @example
 * decideBill({ reported: { promptTokens: 9, completionTokens: 0 }, relayedTokens: 100, promptRead: true }, { promptTokens: 9, completionTokens: 200 })
 * // { promptTokens: 9, completionTokens: 100, usageSource: 'gateway', usageNote: 'completion_below_relayed' }
 */
export function decideBill(evidence: Evidence, caps: Caps): Bill {
  const { reported, relayedTokens } = evidence;
  const note = reported ? inconsistency(reported, evidence, caps) : 'no_usage';
  if (reported && note === null) {
    return { promptTokens: reported.promptTokens, completionTokens: reported.completionTokens, usageSource: 'upstream', usageNote: null };
  }
  const processed = evidence.promptRead || relayedTokens > 0 || reported !== null;
  const promptTokens = processed ? caps.promptTokens : 0;
  const completionTokens = Math.min(relayedTokens, caps.completionTokens);
  if (promptTokens + completionTokens === 0)
    return { promptTokens: 0, completionTokens: 0, usageSource: 'none', usageNote: processed ? note : 'not_processed' };
  return { promptTokens, completionTokens, usageSource: 'gateway', usageNote: note };
}

function inconsistency(reported: NonNullable<Evidence['reported']>, evidence: Evidence, caps: Caps): UsageNote | null {
  if (reported.completionTokens < evidence.relayedTokens) return 'completion_below_relayed';
  if (reported.completionTokens > caps.completionTokens) return 'completion_above_cap';
  if (reported.promptTokens > caps.promptTokens) return 'prompt_above_cap';
  if (reported.promptTokens === 0 && caps.promptTokens > 0) return 'prompt_missing';
  return null;
}
