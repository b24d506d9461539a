/**
 * Token counting, id for id identical to tiktoken's Rust core (what OpenAI's API runs), in
 * near-linear time whatever the input, sliced so no count blocks the event loop for long; and
 * prompt counting of whole requests, as an upper bound of what the backend's chat template
 * renders, refusing (UncountableInputError) what cannot be bounded.
 *
 * @example
 * const counter = await loadCounter('o200k_base');
 * const promptTokens = await countChatRequest(counter, body, 'llama-3.1-8b');
 * const perPrompt = await countCompletionPrompts(counter, body.prompt, body.suffix);
 * const inputTokens = await countText(counter, hugeDocument); // yields between slices
 * tokenizerStats(); // loaded encodings' sizes, cache fill and caps
 */

export { type ChatCountOptions, type ChatPromptInput, countChatPrompt, countChatRequest, ITEM_TOKENS, SECTION_TOKENS } from './chat';
export { type ChatRules, chatRulesFor } from './chat-rules';
export { IMAGE_TOKENS_HIGH, IMAGE_TOKENS_LOW } from './content-parts';
export { type Counter, countText, encodeText, loadCounter } from './counter';
export { UncountableInputError } from './errors';
export { countMessage } from './message';
export { countCompletionPrompts, countEmbeddingInputs, countTextInput, FIM_TOKENS } from './prompts';
export type { JsonLayout } from './render-json';
export { type CacheStats, configureTokenizer, type TokenizerSettings, type TokenizerStats, tokenizerStats } from './settings';
