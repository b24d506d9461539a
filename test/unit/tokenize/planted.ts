import type { Counter } from '../../../src/tokenize';

/**
 * About `tokens` tokens of varied prose (deterministic), for planting where a hostile client
 * hides prompt text. Varied words so no piece cache or repetition shortcut makes it cheap.
 */
export function plantedText(counter: Counter, tokens = 20_000): string {
  const words = ['ledger', 'budget', 'quota', 'tariff', 'invoice', 'gateway', 'window', 'reserve', 'settle', 'prompt', 'vector', 'kernel'];
  let seed = 7;
  const parts: string[] = [];
  let text = '';
  while (counter.count(text) < tokens) {
    for (let i = 0; i < 500; i++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      parts.push(`${words[seed % words.length]}${seed % 97}`);
    }
    text = parts.join(' ');
  }
  return text;
}
