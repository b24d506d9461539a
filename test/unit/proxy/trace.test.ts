import { describe, expect, test } from 'vitest';
import { traceContext } from '../../../src/proxy/trace';

describe('traceContext', () => {
  test("a client's valid traceparent goes on unchanged, with its tracestate", () => {
    const given = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    expect(traceContext(given, 'vendor=x')).toEqual({ traceparent: given, tracestate: 'vendor=x' });
  });

  test('an invalid one is replaced by a new sampled context, and its tracestate dropped', () => {
    const made = traceContext('00-00000000000000000000000000000000-00f067aa0ba902b7-01', 'vendor=x');
    expect(made.tracestate).toBeNull();
    expect(made.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  test('new contexts stay valid and distinct across many refills of the random pool', () => {
    // 24 random bytes each: 2,000 of them draw the 4 KiB pool about a dozen times.
    const made = Array.from({ length: 2_000 }, () => traceContext(undefined, undefined).traceparent);
    for (const traceparent of made) expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(new Set(made).size).toBe(made.length);
    expect(new Set(made.map((traceparent) => traceparent.slice(3, 35))).size).toBe(made.length);
  });
});
