/**
 * Token counting, id for id identical to tiktoken's Rust core (what OpenAI's API runs), in
 * near-linear time whatever the input, sliced so no count blocks the event loop for long.
 *
 * @example
 * const counter = await loadCounter('o200k_base');
 * const promptTokens = await countChatPrompt(counter, { messages, tools }, 'gpt-4o');
 * const inputTokens = await countText(counter, hugeDocument); // yields between slices
 * tokenizerStats(); // loaded encodings' sizes, cache fill and caps
 */
export { type Counter, countText, encodeText, loadCounter } from './counter';
export {
  type ChatPromptInput,
  type ChatRules,
  chatRulesFor,
  countChatPrompt,
  countTextInput,
  countMessage,
  IMAGE_TOKENS_HIGH,
  IMAGE_TOKENS_LOW,
} from './chat';
export { type CacheStats, configureTokenizer, type TokenizerSettings, type TokenizerStats, tokenizerStats } from './settings';
