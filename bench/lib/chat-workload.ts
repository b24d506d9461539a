import { englishCorpus, seededRandom } from './corpora';

/**
 * The chat workload: conversations with a ~2,000-token system prompt and 10 short turns,
 * re-sent in full on every turn as a client does. Each conversation has its own system prompt.
 */
export interface ChatMessage {
  role: string;
  content: string;
}

const SYSTEM_PROMPT_CHARS = 5_600; // ≈ 2,000 cl100k tokens of the English corpus
const WORDS =
  'invoice budget usage spend tokens model window request key quota price report monthly daily team project limit alert ' +
  'please could you show me the what how why when total last week yesterday compare increase reduce explain'.split(' ');

function turnText(random: () => number, turn: number): string {
  const words: string[] = [];
  const length = 8 + Math.floor(random() * 25);
  for (let i = 0; i < length; i++) words.push(WORDS[Math.floor(random() * WORDS.length)]!);
  return `${turn % 2 ? 'Q' : 'A'}${turn}: ${words.join(' ')}?`;
}

export function conversations(count: number, seed: number): ChatMessage[][] {
  const corpus = englishCorpus(400 * 1024);
  const random = seededRandom(seed);
  const result: ChatMessage[][] = [];
  for (let c = 0; c < count; c++) {
    const offset = Math.floor(random() * (corpus.length - SYSTEM_PROMPT_CHARS));
    const messages: ChatMessage[] = [{ role: 'system', content: corpus.slice(offset, offset + SYSTEM_PROMPT_CHARS) }];
    for (let turn = 1; turn <= 10; turn++) messages.push({ role: turn % 2 ? 'user' : 'assistant', content: turnText(random, turn) });
    result.push(messages);
  }
  return result;
}

/** Every request of every conversation in order: turn t sends the system prompt and turns 1..t. */
export function growingRequests(all: ChatMessage[][]): ChatMessage[][] {
  return all.flatMap((messages) => messages.slice(1).map((_, t) => messages.slice(0, t + 2)));
}
