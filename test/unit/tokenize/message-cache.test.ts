import { describe, expect, test } from 'vitest';
import { chatRulesFor, countMessage, loadCounter } from '../../../src/tokenize';
import { countMessageCached } from '../../../src/tokenize/message';

// The message cache keys the common `{ role, content, name? }` message without serialising it.
// Whatever the order of lookups, a cached count must be the message's own count: messages built
// to collide with another's key (shifted role/name boundaries, absent vs empty name) included.
describe('the message cache', () => {
  test('answers each message its own count, for messages built to share a key', async () => {
    const counter = await loadCounter('cl100k_base');
    const rules = chatRulesFor('cl100k_base', 'gpt-4');
    const messages: unknown[] = [
      { role: 'user', content: 'hello there' },
      { role: 'user', content: 'hello there', name: '' },
      { role: 'user', content: 'hello there', name: 'ann' },
      { name: 'ann', content: 'hello there', role: 'user' },
      { role: 'user3:ann', content: 'hello there' },
      { role: 'user', content: '3:annhello there' },
      { role: 'user', name: '-', content: 'hello there' },
      { role: 'user-', content: 'hello there' },
      { role: 'assistant', content: 'hello there' },
      { role: 'user', content: 'hello there', tool_call_id: 'x' },
      { role: 'user', content: [{ type: 'text', text: 'hello there' }] },
      { role: 'user', content: 'x'.repeat(40_000) },
    ];
    const layout = 'indent' as const;
    const own = messages.map((message) => countMessage(counter, rules, message, 'messages', layout));
    // Twice, so the second pass reads every count back from the cache.
    for (let pass = 0; pass < 2; pass++) {
      for (const [index, message] of messages.entries()) {
        expect(await countMessageCached(counter, rules, message, 'messages', layout)).toBe(own[index]);
      }
    }
    // The name is counted: an absent name, an empty one and a real one do not all count the same.
    expect(new Set(own.slice(0, 3)).size).toBeGreaterThan(1);
  });
});
