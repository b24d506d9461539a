export { type Counter, loadCounter } from './counter';
export { type ChatPromptInput, type ChatRules, chatRulesFor, countChatPrompt, countTextInput, countMessage } from './chat';
