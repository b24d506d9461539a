/**
 * The first request a fresh process or isolate counts in bench/coldstart.ts: small, as most
 * chat requests are, so what is measured is loading the encoding, not counting.
 */
export const FIRST_REQUEST = {
  model: 'gpt-4',
  messages: [
    { role: 'system', content: 'You are a helpful assistant. Answer briefly.' },
    { role: 'user', content: 'What is the capital of France? Reply in one word, then explain why in a sentence.' },
  ],
};
