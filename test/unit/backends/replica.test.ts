// A replica's circuit breaker, on a clock the test moves: ejection, growing back-off, one trial
// at a time, and what a trial's verdict does.
import { describe, expect, test } from 'vitest';
import { Replica } from '../../../src/backends';

const policy = { failureThreshold: 1, backoffMs: 1_000, maxBackoffMs: 8_000 };
const replica = (patch: { maxInFlight?: number } = {}) =>
  new Replica('gpu-a', { url: 'http://10.0.0.1:8000/v1/', timeoutMs: 60_000, ...patch });

/** Sends one request and reports `ok` for it at `now`. */
function attempt(r: Replica, now: number, ok: boolean) {
  r.take();
  const trial = r.lastTakeWasTrial;
  if (ok) r.succeeded(trial);
  else r.failed(now, trial, policy);
  r.release(trial);
  return trial;
}

describe('passive health', () => {
  test('a failure ejects it for the back-off; after it, one trial request at a time', () => {
    const r = replica();
    expect(r.url).toBe('http://10.0.0.1:8000/v1');
    expect(attempt(r, 0, false)).toBe(false);
    expect(r.healthy).toBe(false);
    expect(r.selectable(999)).toBe(false);
    expect(r.selectable(1_000)).toBe(true);
    r.take();
    expect(r.lastTakeWasTrial).toBe(true);
    expect(r.selectable(1_000)).toBe(false); // its trial is running: nobody else
    r.succeeded(true);
    r.release(true);
    expect(r.healthy).toBe(true);
    expect(r.selectable(1_000)).toBe(true);
  });

  test('each failed trial doubles the back-off, up to the cap; a success resets it', () => {
    const r = replica();
    attempt(r, 0, false); // out until 1s
    const until: number[] = [];
    let now = 0;
    for (let i = 0; i < 5; i++) {
      while (!r.selectable(now)) now += 100;
      until.push(now);
      attempt(r, now, false);
    }
    expect(until).toEqual([1_000, 3_000, 7_000, 15_000, 23_000]); // +1s, +2s, +4s, +8s, +8s (cap)
    while (!r.selectable(now)) now += 100;
    attempt(r, now, true);
    attempt(r, now, false);
    expect(r.selectable(now + 999)).toBe(false);
    expect(r.selectable(now + 1_000)).toBe(true);
    expect(r.ejections).toBe(7);
  });

  test('requests that were running when it was ejected change nothing: only the trial counts', () => {
    const r = replica();
    for (let i = 0; i < 4; i++) r.take();
    r.failed(0, false, policy); // the first of the four fails: ejected until 1s
    r.release(false);
    for (let i = 0; i < 3; i++) {
      r.failed(10, false, policy); // late failures do not stretch the back-off
      r.release(false);
    }
    expect(r.selectable(1_000)).toBe(true);
    r.take();
    r.succeeded(false); // a late success of a request that is not the trial does not close it
    r.release(false);
    expect(r.healthy).toBe(false);
  });

  test('below the threshold failures are counted, not acted on; a success clears the count', () => {
    const r = replica();
    const lenient = { ...policy, failureThreshold: 3 };
    r.failed(0, false, lenient);
    r.failed(0, false, lenient);
    r.succeeded(false);
    r.failed(0, false, lenient);
    r.failed(0, false, lenient);
    expect(r.healthy).toBe(true);
    r.failed(0, false, lenient);
    expect(r.healthy).toBe(false);
  });

  test('Retry-After ejects it at once, for as long as the backend asked if that is longer than the back-off', () => {
    const r = replica();
    r.failed(0, false, { ...policy, failureThreshold: 5 }, 5_000);
    expect(r.selectable(4_999)).toBe(false);
    expect(r.selectable(5_000)).toBe(true);
  });

  test('a trial that ends without a verdict (its client left) frees the trial for the next request', () => {
    const r = replica();
    attempt(r, 0, false);
    r.take();
    r.release(true);
    expect(r.selectable(1_000)).toBe(true);
    expect(r.healthy).toBe(false);
  });
});

describe('active probes', () => {
  test('a failed probe ejects it until a probe succeeds: time does not let it back, a good probe does', () => {
    const r = replica();
    r.probed(false, 0, policy);
    expect(r.healthy).toBe(false);
    expect(r.selectable(3_600_000)).toBe(false);
    r.probed(false, 10, policy);
    r.probed(true, 20, policy);
    expect(r.healthy).toBe(true);
    expect(r.selectable(20)).toBe(true);
  });

  test('probes stopped (a reload turned them off): a replica they ejected is left to a trial request', () => {
    const r = replica();
    r.probed(false, 0, policy);
    r.probesStopped(5);
    expect(r.selectable(5)).toBe(true);
    expect(attempt(r, 5, true)).toBe(true);
    expect(r.healthy).toBe(true);
  });

  test('a replica its requests ejected is not let back early by a good probe (lying health)', () => {
    const r = replica();
    attempt(r, 0, false);
    r.probed(true, 10, policy);
    expect(r.selectable(10)).toBe(false);
    expect(r.selectable(1_000)).toBe(true);
  });
});

describe('capacity', () => {
  test('maxInFlight bounds what it is given', () => {
    const r = replica({ maxInFlight: 2 });
    r.take();
    r.take();
    expect(r.hasCapacity).toBe(false);
    expect(r.selectable(0)).toBe(false);
    r.release(false);
    expect(r.selectable(0)).toBe(true);
  });
});
