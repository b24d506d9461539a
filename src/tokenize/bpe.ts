import { NO_RANK, type PairRanks } from './pair-ranks';

/**
 * Byte-pair merging of one piece, given as the ids of its single-byte tokens, with tiktoken's
 * rule: merge the adjacent pair of lowest rank, the leftmost on ties, until no adjacent pair
 * forms a token. A merged part's id is the pair's rank, so everything stays integer.
 * Short pieces use tiktoken's own array scan (fastest when small); long ones use
 * LongPieceMerge (bpe-long.ts), which makes the same choices in O(n log n).
 */

/** Above this many bytes the quadratic scan loses to the heap. */
export const SHORT_PIECE_MAX_BYTES = 128;

const pairRanks = new Int32Array(SHORT_PIECE_MAX_BYTES + 1);

/** Merges ids[0, n) in place; returns the number of parts left (their ids in ids[0, count)). */
export function mergeShortPiece(ids: Int32Array, n: number, pairs: PairRanks): number {
  let count = n;
  let best = NO_RANK;
  let at = -1;
  for (let k = 0; k < count - 1; k++) {
    const rank = pairs.get(ids[k]!, ids[k + 1]!);
    pairRanks[k] = rank;
    if (rank < best) {
      best = rank;
      at = k;
    }
  }
  pairRanks[count - 1] = NO_RANK;
  while (at >= 0) {
    // Part `at` becomes the merged token (id = rank) and part `at + 1` goes: the pairs on
    // either side change; then one pass both closes the gap and finds the next lowest rank.
    const merged = best;
    ids[at] = merged;
    if (at > 0) pairRanks[at - 1] = pairs.get(ids[at - 1]!, merged);
    pairRanks[at] = at + 2 < count ? pairs.get(merged, ids[at + 2]!) : NO_RANK;
    count--;
    best = NO_RANK;
    let next = -1;
    for (let k = 0; k <= at && k < count - 1; k++) {
      const rank = pairRanks[k]!;
      if (rank < best) {
        best = rank;
        next = k;
      }
    }
    for (let k = at + 1; k < count; k++) {
      ids[k] = ids[k + 1]!;
      const rank = pairRanks[k + 1]!;
      pairRanks[k] = rank;
      if (rank < best && k < count - 1) {
        best = rank;
        next = k;
      }
    }
    pairRanks[count - 1] = NO_RANK;
    at = next;
  }
  return count;
}
