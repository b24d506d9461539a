import type { EncodingName } from '../config';

/**
 * Per-message rules by OpenAI's published method (the cookbook's num_tokens_from_messages):
 * every message costs a fixed overhead plus its fields' tokens, a `name` adds one more, and the
 * reply is primed with 3 tokens.
 */
export interface ChatRules {
  tokensPerMessage: number;
  tokensPerName: number;
  replyPriming: number;
}

/**
 * The rules for a model name (only the -0301 snapshots differ).
 * @example chatRulesFor('cl100k_base', 'gpt-4') // { tokensPerMessage: 3, tokensPerName: 1, replyPriming: 3 }
 */
export function chatRulesFor(_encoding: EncodingName, model = ''): ChatRules {
  if (/0301/.test(model)) return { tokensPerMessage: 4, tokensPerName: -1, replyPriming: 3 };
  return { tokensPerMessage: 3, tokensPerName: 1, replyPriming: 3 };
}
