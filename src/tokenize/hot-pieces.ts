/**
 * Direct-mapped table of recently seen pieces → ids, in front of every Map. Text is Zipfian:
 * a few thousand pieces (" the", "ing", "\n\n", "的") make up most of any input, and for them
 * this costs one slot read and a short char compare: no substring, no string hashing. The
 * slot comes from a hash the scanner computes while classifying the piece anyway.
 */
const SLOTS_LOG2 = 14;
const MASK = (1 << SLOTS_LOG2) - 1;
export const HOT_PIECE_SLOTS = 1 << SLOTS_LOG2;

/** Longest piece worth a slot; longer ones are rare and compare slowly. */
export const HOT_PIECE_MAX_CHARS = 24;

export class HotPieces {
  private readonly keys: (string | undefined)[] = new Array<string | undefined>(HOT_PIECE_SLOTS).fill(undefined);
  private readonly values: (readonly number[] | undefined)[] = new Array<readonly number[] | undefined>(HOT_PIECE_SLOTS).fill(undefined);

  /** Ids of text[start, end) if it holds the slot for `hash`. */
  get(text: string, start: number, end: number, hash: number): readonly number[] | undefined {
    const slot = hash & MASK;
    const key = this.keys[slot];
    if (key === undefined || key.length !== end - start) return undefined;
    for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) !== text.charCodeAt(start + i)) return undefined;
    return this.values[slot];
  }

  set(piece: string, hash: number, ids: readonly number[]): void {
    const slot = hash & MASK;
    this.keys[slot] = piece;
    this.values[slot] = ids;
  }

  clear(): void {
    this.keys.fill(undefined);
    this.values.fill(undefined);
  }

  get entries(): number {
    return this.keys.reduce((n, key) => (key === undefined ? n : n + 1), 0);
  }
}
