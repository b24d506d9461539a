export { type ContextPolicy, type ContextCandidate, type ContextDecision, planContext, contextExceededMessage } from './policy';
