export { type ContextCandidate, type ContextDecision, type ContextPolicy, contextExceededMessage, planContext } from './policy';
