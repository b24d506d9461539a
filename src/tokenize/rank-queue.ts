/**
 * Priority queue of candidate merges ordered by (rank, start), built for BPE: entries are
 * bucketed by rank and a three-level bitset finds the lowest non-empty rank in O(1). Within a
 * bucket, starts are drained in order from a sorted array (filled by one typed-array sort) plus
 * a small min-heap for starts pushed after draining began. Merging a pair of rank r never
 * creates another pair of rank r (the joined token is longer), so a run of 100k identical
 * pairs costs one sort instead of 100k heap sifts.
 */

interface Bucket {
  /** Sorted starts still to pop, from `cursor`. */
  sorted: Int32Array;
  cursor: number;
  /** Starts pushed before draining began, unordered (sorted in one go when draining starts). */
  fresh: number[];
  /** Min-heap of starts pushed while `sorted` was part-drained (a lower rank interrupted it). */
  late: number[];
}

const EMPTY = new Int32Array(0);
const NO_LATE: number[] = []; // shared and never pushed to: a bucket gets its own on first use

export class RankQueue {
  private readonly level0: Uint32Array;
  private readonly level1: Uint32Array;
  private readonly level2: Uint32Array;
  // Indexed by rank: an array lookup per push instead of a Map probe. Queues are pooled
  // (see acquireRankQueue) since a fully drained queue is clean and the arrays are big.
  private readonly buckets: (Bucket | undefined)[];
  /** Rank of the last popped entry (valid after pop() returned ≥ 0). */
  rank = -1;

  constructor(rankCount: number) {
    this.level0 = new Uint32Array(Math.ceil(rankCount / 32));
    this.level1 = new Uint32Array(Math.ceil(this.level0.length / 32));
    this.level2 = new Uint32Array(Math.ceil(this.level1.length / 32));
    this.buckets = new Array<Bucket | undefined>(rankCount).fill(undefined);
  }

  get rankCount(): number {
    return this.buckets.length;
  }

  push(rank: number, start: number): void {
    let bucket = this.buckets[rank];
    if (bucket === undefined) {
      bucket = { sorted: EMPTY, cursor: 0, fresh: [], late: NO_LATE };
      this.buckets[rank] = bucket;
      this.level0[rank >>> 5]! |= 1 << (rank & 31);
      this.level1[rank >>> 10]! |= 1 << ((rank >>> 5) & 31);
      this.level2[rank >>> 15]! |= 1 << ((rank >>> 10) & 31);
    }
    if (bucket.cursor < bucket.sorted.length) {
      if (bucket.late === NO_LATE) bucket.late = [];
      heapPush(bucket.late, start);
    } else bucket.fresh.push(start);
  }

  /** Removes and returns the start of the smallest (rank, start); -1 when empty. */
  pop(): number {
    const rank = this.lowestRank();
    if (rank < 0) return -1;
    const bucket = this.buckets[rank]!;
    if (bucket.cursor === bucket.sorted.length && bucket.fresh.length === 1 && bucket.late.length === 0) {
      // The common case in long mixed pieces: a rank seen once. No sort, no allocation.
      this.remove(rank);
      this.rank = rank;
      return bucket.fresh.pop()!;
    }
    if (bucket.cursor === bucket.sorted.length && bucket.fresh.length > 0) {
      // Nothing sorted left: sort everything pending in one go (cheaper than heap pops).
      bucket.sorted = Int32Array.from(bucket.fresh.concat(bucket.late)).sort();
      bucket.cursor = 0;
      bucket.fresh = [];
      bucket.late = NO_LATE;
    }
    let start: number;
    if (bucket.cursor < bucket.sorted.length && (bucket.late.length === 0 || bucket.sorted[bucket.cursor]! < bucket.late[0]!)) {
      start = bucket.sorted[bucket.cursor++]!;
    } else {
      start = heapPop(bucket.late);
    }
    if (bucket.cursor === bucket.sorted.length && bucket.late.length === 0 && bucket.fresh.length === 0) this.remove(rank);
    this.rank = rank;
    return start;
  }

  private remove(rank: number): void {
    this.buckets[rank] = undefined;
    if ((this.level0[rank >>> 5]! &= ~(1 << (rank & 31))) !== 0) return;
    if ((this.level1[rank >>> 10]! &= ~(1 << ((rank >>> 5) & 31))) !== 0) return;
    this.level2[rank >>> 15]! &= ~(1 << ((rank >>> 10) & 31));
  }

  private lowestRank(): number {
    const { level0, level1, level2 } = this;
    for (let w2 = 0; w2 < level2.length; w2++) {
      const bits2 = level2[w2]!;
      if (bits2 === 0) continue;
      const w1 = (w2 << 5) | lowestBit(bits2);
      const w0 = (w1 << 5) | lowestBit(level1[w1]!);
      return (w0 << 5) | lowestBit(level0[w0]!);
    }
    return -1;
  }
}

const pool: RankQueue[] = [];

/** An empty queue for `rankCount` ranks, reused when one is free. */
export function acquireRankQueue(rankCount: number): RankQueue {
  const index = pool.findIndex((queue) => queue.rankCount === rankCount);
  return index >= 0 ? pool.splice(index, 1)[0]! : new RankQueue(rankCount);
}

/** Returns a fully drained queue to the pool (a few are kept: one per concurrent long merge). */
export function releaseRankQueue(queue: RankQueue): void {
  if (pool.length < 4) pool.push(queue);
}

function lowestBit(bits: number): number {
  return 31 - Math.clz32(bits & -bits);
}

// Starts mostly arrive in increasing order, so a sift-up usually stops at once.
function heapPush(heap: number[], value: number): void {
  let i = heap.length;
  heap.push(value);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]! <= value) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = value;
}

function heapPop(heap: number[]): number {
  const top = heap[0]!;
  const last = heap.pop()!;
  const size = heap.length;
  if (size === 0) return top;
  let i = 0;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && heap[child + 1]! < heap[child]!) child++;
    if (heap[child]! >= last) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = last;
  return top;
}
