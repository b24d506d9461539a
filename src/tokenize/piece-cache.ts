/**
 * Bounded cache of piece text → token ids for pieces that needed merging. Two generations
 * instead of a strict LRU: lookups hit `young` then `old` (promoting), and when `young` fills
 * it becomes `old` and the previous `old` is dropped. No per-hit reordering, and at most
 * `capacity` entries are ever held.
 */
export class PieceCache {
  private young = new Map<string, readonly number[]>();
  private old = new Map<string, readonly number[]>();
  private keyChars = 0;
  private oldKeyChars = 0;
  hits = 0;
  misses = 0;

  constructor(private capacity: number) {}

  get(piece: string): readonly number[] | undefined {
    const found = this.young.get(piece);
    if (found !== undefined) {
      this.hits++;
      return found;
    }
    const aged = this.old.get(piece);
    if (aged === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.set(piece, aged);
    return aged;
  }

  set(piece: string, ids: readonly number[]): void {
    if (this.capacity < 2) return;
    if (this.young.size >= this.capacity / 2) {
      this.old = this.young;
      this.oldKeyChars = this.keyChars;
      this.young = new Map();
      this.keyChars = 0;
    }
    this.young.set(piece, ids);
    this.keyChars += piece.length;
  }

  resize(capacity: number): void {
    this.capacity = capacity;
    this.clear();
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
    this.keyChars = 0;
    this.oldKeyChars = 0;
  }

  get entries(): number {
    return this.young.size + this.old.size;
  }

  get cap(): number {
    return this.capacity;
  }

  /** Approximate heap bytes: UTF-16 keys, small id arrays, and Map slots. */
  get bytes(): number {
    return (this.keyChars + this.oldKeyChars) * 2 + this.entries * 96;
  }
}
