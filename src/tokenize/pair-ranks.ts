/**
 * Rank of the token formed by joining two tokens, looked up by the pair of ids. In tiktoken's
 * merge every part is a token, so "is bytes[a..c] a token" depends only on the two parts'
 * ids. Pairs of single-byte tokens (the first step of every merge) come from a 256×256 table;
 * other pairs from an index of the vocabulary keyed by a polynomial hash, where the joined
 * hash is computed from the two parts' hashes: no string is built and nothing is hashed
 * twice, so a lookup is a few integer ops and one probe, hit or miss, cold or warm.
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
  /** Polynomial hash and byte length of every token, by id. */
  private readonly hashes: Int32Array;
  private readonly lengths: Int32Array;
  /** BASE^k mod 2^32, for joining hashes. */
  private readonly powers: Int32Array;
  /** Open addressing: [hash, id] per slot. */
  private readonly index: Int32Array;
  private readonly mask: number;
  private readonly bytePairs: Int32Array | undefined;
  /** [left, right, rank] per slot: repetitive text (runs, tables) asks for the same pairs again and again. */
  private readonly recent = new Int32Array(RECENT_SLOTS * 3).fill(EMPTY);

  constructor(
    private readonly tokenBytes: readonly string[],
    byteIds: Int32Array,
  ) {
    const count = tokenBytes.length;
    this.hashes = new Int32Array(count);
    this.lengths = new Int32Array(count);
    let longest = 1;
    tokenBytes.forEach((bytes, id) => {
      let hash = 0;
      for (let i = 0; i < bytes.length; i++) hash = (Math.imul(hash, BASE) + bytes.charCodeAt(i)) & HASH_MASK;
      this.hashes[id] = hash;
      this.lengths[id] = bytes.length;
      longest = Math.max(longest, bytes.length);
    });
    this.powers = new Int32Array(longest + 1);
    this.powers[0] = 1;
    for (let k = 1; k <= longest; k++) this.powers[k] = Math.imul(this.powers[k - 1]!, BASE);
    const slots = 2 ** Math.ceil(Math.log2(count * 2));
    this.mask = slots - 1;
    this.index = new Int32Array(slots * 2).fill(EMPTY);
    for (let id = 0; id < tokenBytes.length; id++) this.insert(id);
    this.bytePairs = byteIds.every((id) => id < 256) ? this.buildBytePairs(byteIds) : undefined;
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

  /** Heap bytes of the index and its tables. */
  get bytes(): number {
    return this.index.byteLength + this.hashes.byteLength * 2 + this.recent.byteLength + (this.bytePairs?.byteLength ?? 0);
  }

  /**
   * Id of the token whose bytes are text[start, end), an ASCII range hashed as `hash`, or -1:
   * the whole-piece lookup without building a substring or probing a Map.
   */
  findAscii(text: string, start: number, end: number, hash: number): number {
    const { index, mask } = this;
    const length = end - start;
    for (let slot = mix(hash) & mask; ; slot = (slot + 1) & mask) {
      const id = index[slot * 2 + 1]!;
      if (id === EMPTY) return -1;
      if (index[slot * 2] !== hash || this.lengths[id] !== length) continue;
      const bytes = this.tokenBytes[id]!;
      let k = 0;
      while (k < length && bytes.charCodeAt(k) === text.charCodeAt(start + k)) k++;
      if (k === length) return id;
    }
  }

  private lookUp(left: number, right: number): number {
    const rightLength = this.lengths[right]!;
    const hash = (Math.imul(this.hashes[left]!, this.powers[rightLength]!) + this.hashes[right]!) & HASH_MASK;
    const length = this.lengths[left]! + rightLength;
    const { index, mask } = this;
    for (let slot = mix(hash) & mask; ; slot = (slot + 1) & mask) {
      const id = index[slot * 2 + 1]!;
      if (id === EMPTY) return NO_RANK;
      if (index[slot * 2] !== hash || this.lengths[id] !== length) continue;
      const bytes = this.tokenBytes[id]!;
      if (bytes.startsWith(this.tokenBytes[left]!) && bytes.endsWith(this.tokenBytes[right]!)) return id;
    }
  }

  private insert(id: number): void {
    const hash = this.hashes[id]!;
    let slot = mix(hash) & this.mask;
    while (this.index[slot * 2 + 1] !== EMPTY) slot = (slot + 1) & this.mask;
    this.index[slot * 2] = hash;
    this.index[slot * 2 + 1] = id;
  }

  /** Every pair of single-byte tokens, indexed by (left id << 8 | right id). */
  private buildBytePairs(byteIds: Int32Array): Int32Array {
    const table = new Int32Array(65536).fill(NO_RANK);
    for (const left of byteIds) for (const right of byteIds) table[(left << 8) | right] = this.lookUp(left, right);
    return table;
  }
}

function mix(hash: number): number {
  const h = Math.imul(hash ^ (hash >>> 16), 0x45d9f3b);
  return h ^ (h >>> 16);
}
