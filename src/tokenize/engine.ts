import { mergeShortPiece, SHORT_PIECE_MAX_BYTES } from './bpe';
import { LongPieceMerge } from './bpe-long';
import { HOT_PIECE_MAX_CHARS, HotPieces } from './hot-pieces';
import { NO_RANK, PairRanks } from './pair-ranks';
import type { PieceCache } from './piece-cache';
import type { EncodingTables } from './ranks';
import { ASCII, LONE_SURROGATE, takeFingerprint, wellFormed, writeByteIds } from './utf8';

/** Pieces longer than this are not cached: rare, and they would crowd out the common ones. */
const MAX_CACHED_PIECE_CHARS = 64;
/** Merge work is weighted per byte: a cache miss costs far more than a scanned character. */
const MERGE_WORK_PER_BYTE = 4;
/** Long-merge steps (a queue pop or an initial pair) per unit of work budget. */
const LONG_STEPS_PER_WORK = 1;
/** writeByteIds with this map writes the UTF-8 bytes themselves. */
const BYTE_VALUES = Int32Array.from({ length: 256 }, (_, byte) => byte);

/** Progress of one encode/count call; lives per call so interleaved async calls never share it. */
export interface EncodeRun {
  readonly text: string;
  /** Ids are collected only when asked for; counting alone skips the array. */
  readonly out: number[] | null;
  pos: number;
  count: number;
  longPiece: LongPieceMerge | null;
}

/**
 * tiktoken's `encode_ordinary` for one encoding: split with the encoding's scanner, look each
 * piece up whole, else merge it (cached when short). Special-token strings are plain text.
 */
export class BpeEngine {
  readonly pairs: PairRanks;
  readonly hot = new HotPieces();
  /** Id of every two-char ASCII piece that is one token, else -1 (indexed by unit0 << 7 | unit1). */
  private readonly asciiPairIds = new Int32Array(128 * 128);
  private scratch = new Int32Array(1024);

  constructor(
    readonly tables: EncodingTables,
    readonly pieces: PieceCache,
  ) {
    this.pairs = new PairRanks(tables);
    for (let pair = 0; pair < 128 * 128; pair++) {
      const id = this.pairs.get(tables.byteIds[pair >> 7]!, tables.byteIds[pair & 127]!);
      this.asciiPairIds[pair] = id === NO_RANK ? -1 : id;
    }
  }

  startRun(text: string, collectIds: boolean): EncodeRun {
    return { text, out: collectIds ? [] : null, pos: 0, count: 0, longPiece: null };
  }

  /**
   * Advances `run` by about `budget` units of work, or until the clock passes `deadline`
   * (checked every 64 pieces; on Workers the clock stands still, so the budget is what
   * bounds a slice there); true when the whole text is done.
   */
  step(run: EncodeRun, budget: number, deadline = Infinity): boolean {
    const { text } = run;
    const len = text.length;
    const scan = this.tables.scanPiece;
    let work = 0;
    for (let pieces = 1; ; pieces++) {
      if ((pieces & 63) === 0 && deadline !== Infinity && performance.now() > deadline) return false;
      if (run.longPiece !== null) {
        const merge = run.longPiece;
        const maxSteps = budget === Infinity ? Infinity : Math.max(1, (budget - work) * LONG_STEPS_PER_WORK);
        if (!merge.run(maxSteps)) return false;
        run.count += run.out === null ? merge.countParts() : merge.emit(run.out);
        run.longPiece = null;
        work += maxSteps === Infinity ? 0 : maxSteps / LONG_STEPS_PER_WORK;
      }
      if (run.pos >= len) return true;
      if (work >= budget) return false;
      const start = run.pos;
      const end = scan(text, start);
      run.pos = end;
      work += end - start + this.encodePiece(run, start, end);
    }
  }

  encode(text: string): number[] {
    const run = this.startRun(text, true);
    this.step(run, Infinity);
    return run.out!;
  }

  count(text: string): number {
    const run = this.startRun(text, false);
    this.step(run, Infinity);
    return run.count;
  }

  /** Empties every cache: the next inputs are counted as if seen for the first time. */
  clearCaches(): void {
    this.pieces.clear();
    this.hot.clear();
  }

  /** Encodes text[start, end) into `run`; returns the extra work spent merging. */
  private encodePiece(run: EncodeRun, start: number, end: number): number {
    const text = run.text;
    // One- and two-char ASCII pieces (punctuation, operators, " =", "\n ") are a third of code:
    // tables answer them outright. A 2-byte piece that is not a token is its two bytes.
    if (end - start <= 2) {
      const first = text.charCodeAt(start);
      const second = end - start === 2 ? text.charCodeAt(start + 1) : 0;
      if ((first | second) < 128) {
        const { byteIds } = this.tables;
        if (end - start === 1) return emitId(run, byteIds[first]!);
        const id = this.asciiPairIds[(first << 7) | second]!;
        if (id >= 0) return emitId(run, id);
        emitId(run, byteIds[first]!);
        return emitId(run, byteIds[second]!);
      }
    }
    const { hash, kind } = takeFingerprint(text, start, end);
    const slot = hash ^ (hash >>> 15);
    const hot = end - start <= HOT_PIECE_MAX_CHARS && kind !== LONE_SURROGATE;
    if (hot) {
      const ids = this.hot.get(text, start, end, slot);
      if (ids !== undefined) return emitMany(run, ids);
    }
    if (kind === ASCII) {
      const id = this.pairs.findAscii(text, start, end, hash);
      if (id >= 0) {
        const ids = [id];
        if (hot) this.hot.set(text.slice(start, end), slot, ids);
        return emitMany(run, ids);
      }
    }
    let piece = text.slice(start, end);
    if (kind === LONE_SURROGATE) piece = wellFormed(piece);
    const ids = this.lookUpOrMerge(run, piece, kind, start, end);
    if (ids === undefined) return end - start; // a long merge is now pending in `run`
    if (hot) this.hot.set(piece, slot, ids);
    emitMany(run, ids);
    return ids.length === 1 ? 0 : (end - start) * MERGE_WORK_PER_BYTE;
  }

  /** Ids of a piece from the rank tables, the piece cache, or a merge (undefined: long merge started). */
  private lookUpOrMerge(run: EncodeRun, piece: string, kind: number, start: number, end: number): readonly number[] | undefined {
    if (this.scratch.length < (end - start) * 3) this.scratch = new Int32Array((end - start) * 3);
    const { scratch } = this;
    const { byteIds } = this.tables;
    // ASCII pieces were looked up whole by the caller (findAscii); others by their UTF-8 bytes
    // (lone surrogates as U+FFFD, as tiktoken sees them).
    let n = -1;
    if (kind !== ASCII) {
      n = writeByteIds(run.text, start, end, BYTE_VALUES, scratch);
      const whole = this.pairs.findBytes(scratch, n);
      if (whole >= 0) return [whole];
    }
    const cacheable = end - start <= MAX_CACHED_PIECE_CHARS;
    if (cacheable) {
      const cached = this.pieces.get(piece);
      if (cached !== undefined) return cached;
    }
    if (n < 0) n = writeByteIds(run.text, start, end, byteIds, scratch);
    else for (let k = 0; k < n; k++) scratch[k] = byteIds[scratch[k]!]!;
    if (n > SHORT_PIECE_MAX_BYTES) {
      run.longPiece = new LongPieceMerge(scratch.subarray(0, n), this.pairs, this.tables.rankCount);
      return undefined;
    }
    const count = mergeShortPiece(scratch, n, this.pairs);
    const ids = new Array<number>(count);
    for (let k = 0; k < count; k++) ids[k] = scratch[k]!;
    if (cacheable) this.pieces.set(piece, ids);
    return ids;
  }
}

function emitId(run: EncodeRun, id: number): number {
  run.out?.push(id);
  run.count++;
  return 0;
}

function emitMany(run: EncodeRun, ids: readonly number[]): number {
  if (run.out !== null) for (const id of ids) run.out.push(id);
  run.count += ids.length;
  return 0;
}
