import { describe, expect, test } from 'vitest';
import { Canceller, toAbortSignal } from '../../src/cancel';

describe('Canceller: what the request path relies on from an AbortSignal', () => {
  test('an abort runs each listener once, with the reason set before they run', () => {
    const cancel = new Canceller();
    const seen: unknown[] = [];
    const listener = () => seen.push(cancel.reason);
    cancel.addEventListener('abort', listener);
    cancel.addEventListener('abort', listener); // the same listener twice is one listener, as on EventTarget
    cancel.addEventListener('abort', () => seen.push('second'));
    const reason = new Error('client disconnected');
    cancel.abort(reason);
    cancel.abort(new Error('later'));
    expect(cancel.aborted).toBe(true);
    expect(cancel.reason).toBe(reason);
    expect(seen).toEqual([reason, 'second']);
  });

  test('a removed listener does not run; one added after the abort never runs', () => {
    const cancel = new Canceller();
    let removed = 0;
    let late = 0;
    const listener = () => removed++;
    cancel.addEventListener('abort', listener);
    cancel.removeEventListener('abort', listener);
    cancel.abort();
    cancel.addEventListener('abort', () => late++);
    expect([removed, late]).toEqual([0, 0]);
    expect(cancel.reason).toBeInstanceOf(DOMException);
    expect((cancel.reason as DOMException).name).toBe('AbortError');
  });

  test('a listener that throws does not keep the others from running, and its error is not swallowed', () => {
    const cancel = new Canceller();
    let after = 0;
    cancel.addEventListener('abort', () => {
      throw new Error('listener broke');
    });
    cancel.addEventListener('abort', () => after++);
    expect(() => cancel.abort()).toThrow('listener broke');
    expect(after).toBe(1);
  });

  test('a listener removing itself while the abort runs them changes nothing for the others', () => {
    const cancel = new Canceller();
    const order: string[] = [];
    const first = () => {
      order.push('first');
      cancel.removeEventListener('abort', first);
    };
    cancel.addEventListener('abort', first);
    cancel.addEventListener('abort', () => order.push('second'));
    cancel.abort();
    expect(order).toEqual(['first', 'second']);
  });

  test('toAbortSignal gives fetch a web AbortSignal that follows the Canceller (and a web signal unchanged)', () => {
    const web = new AbortController().signal;
    expect(toAbortSignal(web)).toBe(web);
    const cancel = new Canceller();
    const signal = toAbortSignal(cancel);
    expect(signal.aborted).toBe(false);
    cancel.abort(new Error('upstream timeout'));
    expect(signal.aborted).toBe(true);
    expect((signal.reason as Error).message).toBe('upstream timeout');
    const already = new Canceller();
    already.abort('gone');
    expect(toAbortSignal(already).reason).toBe('gone');
  });
});
