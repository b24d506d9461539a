// Replica choice: least outstanding requests relative to weight, weighted turns among equals,
// capacity, tried replicas, and panic routing when none is healthy.
import { describe, expect, test } from 'vitest';
import { pickReplica, Replica } from '../../../src/backends';

const policy = { failureThreshold: 1, backoffMs: 1_000, maxBackoffMs: 8_000 };
const replicas = (...specs: { weight?: number; maxInFlight?: number }[]) =>
  specs.map((spec, i) => new Replica(`r${i}`, { url: `http://10.0.0.${i}:8000/v1`, timeoutMs: 60_000, ...spec }));

function tally(pool: Replica[], picks: number, hold: boolean) {
  const counts = new Map<string, number>();
  for (let i = 0; i < picks; i++) {
    const chosen = pickReplica(pool, 0, null)!;
    chosen.take();
    if (!hold) chosen.release(false);
    counts.set(chosen.name, (counts.get(chosen.name) ?? 0) + 1);
  }
  return Object.fromEntries([...counts].sort());
}

describe('pickReplica', () => {
  test('the replica with the fewest requests in flight', () => {
    const pool = replicas({}, {}, {});
    pool[0]!.inFlight = 3;
    pool[1]!.inFlight = 1;
    pool[2]!.inFlight = 2;
    expect(pickReplica(pool, 0, null)!.name).toBe('r1');
  });

  test('held requests spread evenly; sequential ones take turns', () => {
    expect(tally(replicas({}, {}, {}), 9, true)).toEqual({ r0: 3, r1: 3, r2: 3 });
    expect(tally(replicas({}, {}, {}), 9, false)).toEqual({ r0: 3, r1: 3, r2: 3 });
  });

  test.each([
    [true, 'held (in flight at once)'],
    [false, 'sequential (nothing in flight between them)'],
  ])('weights 3:1:1 give 3:1:1 of the requests, %s', (hold) => {
    expect(tally(replicas({ weight: 3 }, {}, {}), 50, hold)).toEqual({ r0: 30, r1: 10, r2: 10 });
  });

  test('a replica at its maxInFlight is skipped; all at it: null (wait)', () => {
    const pool = replicas({ maxInFlight: 1 }, { maxInFlight: 1 });
    pool[0]!.take();
    expect(pickReplica(pool, 0, null)!.name).toBe('r1');
    pool[1]!.take();
    expect(pickReplica(pool, 0, null)).toBeNull();
  });

  test('a retry never goes back to a replica it tried', () => {
    const pool = replicas({}, {});
    pool[1]!.inFlight = 5;
    expect(pickReplica(pool, 0, [pool[0]!])!.name).toBe('r1');
    expect(pickReplica(pool, 0, [pool[0]!, pool[1]!])).toBeNull();
  });

  test('ejected replicas are skipped while another is healthy', () => {
    const pool = replicas({}, {});
    pool[0]!.failed(0, false, policy);
    pool[1]!.inFlight = 10;
    expect(pickReplica(pool, 500, null)!.name).toBe('r1');
  });

  test('none healthy: a first attempt goes to the least loaded anyway (panic); a retry goes nowhere', () => {
    const pool = replicas({}, {});
    pool[0]!.failed(0, false, policy);
    pool[1]!.failed(0, false, policy);
    pool[0]!.inFlight = 2;
    expect(pickReplica(pool, 500, null)!.name).toBe('r1');
    expect(pickReplica(pool, 500, [pool[1]!])).toBeNull();
  });
});
