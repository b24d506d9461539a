import { describe, expect, test } from 'vitest';
import { SseSplitter } from '../../../src/proxy/sse';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('SseSplitter', () => {
  test('returns only complete events, whatever the read boundaries', () => {
    const stream = 'data: {"a":1}\n\ndata: {"b":"é✓"}\n\n: comment\n\ndata: [DONE]\n\n';
    const all = bytes(stream);
    for (let cut = 1; cut < all.length; cut++) {
      const splitter = new SseSplitter();
      const events = [...splitter.push(all.slice(0, cut)), ...splitter.push(all.slice(cut)), ...splitter.end()];
      expect(events.map((e) => e.data)).toEqual(['{"a":1}', '{"b":"é✓"}', null, '[DONE]']);
    }
  });

  test('accepts CRLF line endings and multi-line data', () => {
    const splitter = new SseSplitter();
    const events = splitter.push(bytes('event: x\r\ndata: one\r\ndata: two\r\n\r\n'));
    expect(events).toEqual([{ raw: 'event: x\ndata: one\ndata: two', data: 'one\ntwo' }]);
  });

  test('end() flushes a last event with no blank line', () => {
    const splitter = new SseSplitter();
    expect(splitter.push(bytes('data: tail'))).toEqual([]);
    expect(splitter.end()).toEqual([{ raw: 'data: tail', data: 'tail' }]);
  });
});
