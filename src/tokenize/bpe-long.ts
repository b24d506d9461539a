import { NO_RANK, type PairRanks } from './pair-ranks';
import { acquireRankQueue, type RankQueue, releaseRankQueue } from './rank-queue';

/**
 * Byte-pair merging for long pieces (a run of 100k 'a', a CJK paragraph with no punctuation)
 * in O(n log n): parts form a linked list and candidate pairs sit in a RankQueue ordered by
 * (rank, start). Taking the smallest is exactly tiktoken's "lowest rank, leftmost on ties",
 * so the result is identical to its quadratic scan. Stale entries (a pair that has changed
 * since it was queued) are skipped when popped. Work can be done in steps so a caller can
 * yield to the event loop between them.
 */
export class LongPieceMerge {
  private readonly n: number;
  /** Token id of the part starting at each live start. */
  private readonly ids: Int32Array;
  /** Start of the next part; -1 once a start has been merged away. */
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  /** Rank of the pair (part at start, following part), or NO_RANK. */
  private readonly pairRank: Int32Array;
  private readonly queue: RankQueue;
  /** Pairs ranked so far: ranking the initial pairs is itself done in steps. */
  private ranked = 0;

  /** `byteIds`: the piece's single-byte token ids (copied). */
  constructor(
    byteIds: Int32Array,
    private readonly pairs: PairRanks,
    rankCount: number,
  ) {
    const n = byteIds.length;
    this.n = n;
    this.ids = Int32Array.from(byteIds);
    this.next = new Int32Array(n + 1);
    this.prev = new Int32Array(n + 1);
    this.pairRank = new Int32Array(n + 1).fill(NO_RANK);
    this.queue = acquireRankQueue(rankCount);
    for (let i = 0; i <= n; i++) {
      this.next[i] = i + 1;
      this.prev[i] = i - 1;
    }
  }

  /** Performs up to `maxSteps` steps (ranking an initial pair or a merge); true when done. */
  run(maxSteps: number): boolean {
    const { queue, next, pairRank } = this;
    let done = 0;
    // Every initial pair must be queued before the first merge: the lowest rank is global.
    while (this.ranked < this.n - 1) {
      if (done++ >= maxSteps) return false;
      this.rankPair(this.ranked++);
    }
    while (done < maxSteps) {
      const start = queue.pop();
      if (start < 0) {
        releaseRankQueue(queue);
        return true;
      }
      done++;
      if (next[start] === -1 || pairRank[start] !== queue.rank) continue; // stale
      this.mergeAt(start);
    }
    return false;
  }

  /** Appends the final parts' ids; call after run() returned true. */
  emit(out: number[]): number {
    const { n, next, ids } = this;
    let count = 0;
    for (let s = 0; s < n; s = next[s]!) {
      out.push(ids[s]!);
      count++;
    }
    return count;
  }

  /** Number of final parts, without materialising ids. */
  countParts(): number {
    let count = 0;
    for (let s = 0; s < this.n; s = this.next[s]!) count++;
    return count;
  }

  private mergeAt(start: number): void {
    const { next, prev } = this;
    const right = next[start]!;
    const after = next[right]!;
    next[start] = after;
    prev[after] = start;
    next[right] = -1;
    this.ids[start] = this.pairRank[start]!;
    this.rankPair(start);
    const before = prev[start]!;
    if (before >= 0) this.rankPair(before);
  }

  /** Re-ranks the pair (part at `start`, its successor) and queues it if it forms a token. */
  private rankPair(start: number): void {
    const right = this.next[start]!;
    const rank = right < this.n ? this.pairs.get(this.ids[start]!, this.ids[right]!) : NO_RANK;
    this.pairRank[start] = rank;
    if (rank !== NO_RANK) this.queue.push(rank, start);
  }
}
