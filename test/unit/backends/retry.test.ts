// Retry-After as backends send it, and W3C trace context as clients send it.
import { describe, expect, test } from 'vitest';
import { retryAfterMs } from '../../../src/backends';
import { traceContext } from '../../../src/proxy/trace';

describe('retryAfterMs', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  test.each([
    [null, 0],
    ['7', 7_000],
    [' 2 ', 2_000],
    ['3600', 30_000],
    ['Wed, 01 Jan 2025 00:00:05 GMT', 5_000],
    ['Tue, 31 Dec 2024 23:59:00 GMT', 0],
    ['soon', 0],
    ['-5', 0],
  ])('%s → %i ms (bound 30 s)', (header, ms) => {
    expect(retryAfterMs(header, now, 30_000)).toBe(ms);
  });
});

describe('traceContext', () => {
  const valid = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  test('a valid traceparent goes on unchanged, with its tracestate', () => {
    expect(traceContext(valid, 'vendor=x')).toEqual({ traceparent: valid, tracestate: 'vendor=x' });
    const later = '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra';
    expect(traceContext(later, undefined).traceparent).toBe(later);
  });

  test.each([
    undefined,
    'garbage',
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
    'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
    `${valid}-extra`,
  ])('%s: a new sampled one, without the tracestate', (header) => {
    const made = traceContext(header, 'vendor=x');
    expect(made.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(made.traceparent).not.toBe(header);
    expect(made.tracestate).toBeNull();
  });
});
