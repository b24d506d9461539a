// The saturation queue's order: first in, first out per key, keys in turn.
import { describe, expect, test } from 'vitest';
import { FairQueue } from '../../../src/backends';

const item = (key: string, n: number) => ({ key, n });
const drain = (queue: FairQueue<{ key: string; n: number }>) => {
  const order: string[] = [];
  for (let served = queue.serve(() => true); served; served = queue.serve(() => true)) order.push(`${served.key}${served.n}`);
  return order;
};

describe('FairQueue', () => {
  test('a key with many waiting holds another key back by at most one of its own', () => {
    const queue = new FairQueue<{ key: string; n: number }>();
    for (let n = 1; n <= 5; n++) queue.push(item('a', n));
    queue.push(item('b', 1));
    queue.push(item('c', 1));
    queue.push(item('b', 2));
    expect(queue.size).toBe(8);
    expect(drain(queue)).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'a4', 'a5']);
    expect(queue.size).toBe(0);
  });

  test('a key that arrives while others wait takes its turn after them, not before', () => {
    const queue = new FairQueue<{ key: string; n: number }>();
    queue.push(item('a', 1));
    queue.push(item('a', 2));
    queue.push(item('b', 1));
    expect(queue.serve(() => true)).toMatchObject({ key: 'a', n: 1 });
    queue.push(item('c', 1));
    expect(drain(queue)).toEqual(['b1', 'a2', 'c1']);
  });

  test('one that gives up leaves; a key with nothing left leaves the turns', () => {
    const queue = new FairQueue<{ key: string; n: number }>();
    const gone = item('a', 1);
    queue.push(gone);
    queue.push(item('b', 1));
    queue.push(item('b', 2));
    expect(queue.remove(gone)).toBe(true);
    expect(queue.remove(gone)).toBe(false);
    expect(drain(queue)).toEqual(['b1', 'b2']);
  });

  test('serve skips heads the replica cannot take and keeps their turn', () => {
    const queue = new FairQueue<{ key: string; n: number }>();
    queue.push(item('a', 1));
    queue.push(item('b', 1));
    expect(queue.serve((waiter) => waiter.key === 'b')).toMatchObject({ key: 'b' });
    expect(queue.serve((waiter) => waiter.key === 'b')).toBeNull();
    expect(drain(queue)).toEqual(['a1']);
  });
});
