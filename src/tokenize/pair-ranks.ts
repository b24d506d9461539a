import type { EncodingTables } from './ranks';

/**
 * Rank of the token formed by joining two tokens, looked up by the pair of ids. In tiktoken's
 * merge every part is a token, so "is bytes[a..c] a token" depends only on the two parts'
 * ids. Pairs of single-byte tokens (the first step of every merge) come from a 256×256 table;
 * other pairs from an index of the vocabulary keyed by a polynomial hash, where the joined
 * hash is computed from the two parts' hashes: no string is built and nothing is hashed
 * twice, so a lookup is a few integer ops and one probe, hit or miss, cold or warm.
 *
 * Everything here is typed arrays built in a few linear passes over the loaded layout (see
 * ranks.ts): a few milliseconds per encoding, and no per-token object on the heap.
 */

export const NO_RANK = 0x7fffffff;
const EMPTY = -1;
/** Must match takeFingerprint's hash in utf8.ts: ASCII pieces are looked up by it. */
const BASE = 0x01000193;
/** Hashes are taken mod 2^30: small integers in V8, and joining still works (2^30 divides 2^32). */
const HASH_MASK = 0x3fffffff;
/** Slots of the small direct-mapped memo in front of the index (192 KB: stays in cache). */
const RECENT_SLOTS = 16384;

export class PairRanks {
  /** The tokens' bytes in rank order, and where each starts (EncodingTables'). */
  private readonly blob: Uint8Array;
  private readonly starts: Int32Array;
  private readonly lengths: Uint8Array;
  /** Polynomial hash of every token's bytes, by id. */
  private readonly hashes: Int32Array;
  /** BASE^k mod 2^32, for joining hashes. */
  private readonly powers: Int32Array;
  /**
   * Open addressing, one int per slot: id + 1 in the low `idBits` (0: empty) and, above them,
   * the same bits of the token's mixed hash as a tag, so a probe rarely looks past the slot.
   */
  private readonly index: Int32Array;
  private readonly mask: number;
  private readonly idMask: number;
  private readonly bytePairs: Int32Array | undefined;
  /** [left, right, rank] per slot: repetitive text (runs, tables) asks for the same pairs again and again. */
  private readonly recent = new Int32Array(RECENT_SLOTS * 3).fill(EMPTY);

  constructor(tables: EncodingTables) {
    const { bytes, starts, lengths, rankCount, tokenCount, byteIds } = tables;
    this.blob = bytes;
    this.starts = starts;
    this.lengths = lengths;
    this.hashes = new Int32Array(rankCount);
    let longest = 1;
    for (let id = 0; id < rankCount; id++) {
      let hash = 0;
      for (let i = starts[id]!, end = starts[id + 1]!; i < end; i++) hash = (Math.imul(hash, BASE) + bytes[i]!) & HASH_MASK;
      this.hashes[id] = hash;
      if (lengths[id]! > longest) longest = lengths[id]!;
    }
    this.powers = new Int32Array(longest + 1);
    this.powers[0] = 1;
    for (let k = 1; k <= longest; k++) this.powers[k] = Math.imul(this.powers[k - 1]!, BASE);
    // Load factor 0.4–0.8: a miss (most pair lookups) scans a short run of adjacent slots, 16 to a
    // cache line, whose tags turn away all but the right token; and the table stays small (1 MB for
    // o200k_base), so building it at load touches little memory. Half this load factor is no faster.
    const slots = 2 ** Math.ceil(Math.log2(tokenCount * 1.25));
    this.mask = slots - 1;
    this.idMask = 2 ** (32 - Math.clz32(rankCount)) - 1;
    this.index = new Int32Array(slots);
    for (let id = 0; id < rankCount; id++) if (lengths[id]! > 0) this.insert(id);
    this.bytePairs = byteIds.every((id) => id < 256) ? buildBytePairs(tables) : undefined;
  }

  /** Rank (= id) of token `left` followed by token `right` as one token, or NO_RANK. */
  get(left: number, right: number): number {
    if (this.bytePairs !== undefined && (left | right) < 256) return this.bytePairs[(left << 8) | right]!;
    const at = ((Math.imul(left, 0x9e3779b1) ^ right) & (RECENT_SLOTS - 1)) * 3;
    const recent = this.recent;
    if (recent[at] === left && recent[at + 1] === right) return recent[at + 2]!;
    const rank = this.lookUp(left, right);
    recent[at] = left;
    recent[at + 1] = right;
    recent[at + 2] = rank;
    return rank;
  }

  /** Heap bytes of the arrays built here (the layout itself is EncodingTables.approxBytes). */
  get bytes(): number {
    return (
      this.index.byteLength + this.hashes.byteLength + this.powers.byteLength + this.recent.byteLength + (this.bytePairs?.byteLength ?? 0)
    );
  }

  /**
   * Id of the token whose bytes are text[start, end), an ASCII range hashed as `hash`, or -1:
   * the whole-piece lookup without building a substring or probing a Map.
   */
  findAscii(text: string, start: number, end: number, hash: number): number {
    const { index, mask, idMask, blob } = this;
    const length = end - start;
    const mixed = mix(hash);
    for (let slot = mixed & mask; ; slot = (slot + 1) & mask) {
      const entry = index[slot]!;
      if (entry === 0) return -1;
      const id = (entry & idMask) - 1;
      if (((entry ^ mixed) & ~idMask) !== 0 || this.lengths[id] !== length) continue;
      const from = this.starts[id]!;
      let k = 0;
      while (k < length && blob[from + k] === text.charCodeAt(start + k)) k++;
      if (k === length) return id;
    }
  }

  /** Id of the token whose bytes are piece[0, length), or -1 (any bytes: the non-ASCII whole-piece lookup). */
  findBytes(piece: Int32Array, length: number): number {
    let hash = 0;
    for (let k = 0; k < length; k++) hash = (Math.imul(hash, BASE) + piece[k]!) & HASH_MASK;
    const { index, mask, idMask, blob } = this;
    const mixed = mix(hash);
    for (let slot = mixed & mask; ; slot = (slot + 1) & mask) {
      const entry = index[slot]!;
      if (entry === 0) return -1;
      const id = (entry & idMask) - 1;
      if (((entry ^ mixed) & ~idMask) !== 0 || this.lengths[id] !== length) continue;
      const from = this.starts[id]!;
      let k = 0;
      while (k < length && blob[from + k] === piece[k]) k++;
      if (k === length) return id;
    }
  }

  private lookUp(left: number, right: number): number {
    const { lengths, starts, blob } = this;
    const leftLength = lengths[left]!;
    const rightLength = lengths[right]!;
    const hash = (Math.imul(this.hashes[left]!, this.powers[rightLength]!) + this.hashes[right]!) & HASH_MASK;
    const length = leftLength + rightLength;
    const { index, mask, idMask } = this;
    const mixed = mix(hash);
    for (let slot = mixed & mask; ; slot = (slot + 1) & mask) {
      const entry = index[slot]!;
      if (entry === 0) return NO_RANK;
      const id = (entry & idMask) - 1;
      if (((entry ^ mixed) & ~idMask) !== 0 || lengths[id] !== length) continue;
      // Same tag and length: compare the bytes, left part then right part.
      const from = starts[id]!;
      const leftFrom = starts[left]!;
      let k = 0;
      while (k < leftLength && blob[from + k] === blob[leftFrom + k]) k++;
      if (k < leftLength) continue;
      const rightFrom = starts[right]! - leftLength;
      while (k < length && blob[from + k] === blob[rightFrom + k]) k++;
      if (k === length) return id;
    }
  }

  private insert(id: number): void {
    const mixed = mix(this.hashes[id]!);
    let slot = mixed & this.mask;
    while (this.index[slot] !== 0) slot = (slot + 1) & this.mask;
    this.index[slot] = (mixed & ~this.idMask) | (id + 1);
  }
}

/**
 * Every pair of single-byte tokens, indexed by (left id << 8 | right id): the two-byte tokens
 * put in place, one pass over the lengths (a byte sequence is at most one token).
 */
function buildBytePairs({ bytes, starts, lengths, rankCount, byteIds }: EncodingTables): Int32Array {
  const table = new Int32Array(65536).fill(NO_RANK);
  for (let id = 0; id < rankCount; id++) {
    if (lengths[id] !== 2) continue;
    const at = starts[id]!;
    table[(byteIds[bytes[at]!]! << 8) | byteIds[bytes[at + 1]!]!] = id;
  }
  return table;
}

function mix(hash: number): number {
  const h = Math.imul(hash ^ (hash >>> 16), 0x45d9f3b);
  return h ^ (h >>> 16);
}
