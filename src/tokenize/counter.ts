import type { EncodingName } from '../config';
import { BpeEngine } from './engine';
import { PieceCache } from './piece-cache';
import { loadEncodingTables } from './ranks';
import { yieldToEventLoop } from './yield';

/**
 * Turns text into token ids for one encoding. Special-token strings are ordinary text. The async
 * forms give the same result in slices that yield to the event loop, so a huge text never blocks
 * it for long; test doubles may simply resolve the sync result.
 */
export interface Counter {
  readonly encoding: EncodingName;
  /**
   * Whether counts may be cached process-wide under the encoding's name. Only real encodings
   * say yes: a test double sharing an encoding name must not poison real counts.
   */
  readonly cacheable: boolean;
  encode(text: string): number[];
  count(text: string): number;
  countAsync(text: string): Promise<number>;
  encodeAsync(text: string): Promise<number[]>;
}

/** Work units per slice of an async count (~1–4 ms here; well under the 20 ms budget). */
export const SLICE_WORK = 8_192;
/** Wall-clock cap per slice where the clock runs during a task (Node; not Workers). */
const SLICE_MS = 5;
const DEFAULT_PIECE_CACHE_ENTRIES = 32_768;

let pieceCacheEntries = DEFAULT_PIECE_CACHE_ENTRIES;

/** A Counter backed by our engine; counts ids identical to tiktoken's Rust core. */
export class EncodingCounter implements Counter {
  readonly cacheable = true;

  constructor(
    readonly encoding: EncodingName,
    readonly engine: BpeEngine,
  ) {}

  encode(text: string): number[] {
    return this.engine.encode(text);
  }

  count(text: string): number {
    return this.engine.count(text);
  }

  /** Same as count(), in slices that yield to the event loop so no call blocks it for long. */
  async countAsync(text: string): Promise<number> {
    return (await this.runSliced(text, false)).count;
  }

  async encodeAsync(text: string): Promise<number[]> {
    return (await this.runSliced(text, true)).out!;
  }

  private async runSliced(text: string, collectIds: boolean) {
    const run = this.engine.startRun(text, collectIds);
    while (!this.engine.step(run, SLICE_WORK, performance.now() + SLICE_MS)) await yieldToEventLoop();
    return run;
  }
}

const loaded = new Map<EncodingName, Promise<EncodingCounter>>();
const ready = new Map<EncodingName, EncodingCounter>();

/**
 * Loads an encoding's ranks on first use only, so unused encodings cost no memory; later calls
 * get the same counter.
 * @example const counter = await loadCounter('o200k_base'); counter.count('hello world') // 2
 */
export function loadCounter(encoding: EncodingName): Promise<EncodingCounter> {
  let loading = loaded.get(encoding);
  if (!loading) {
    loading = loadEncodingTables(encoding).then((tables) => {
      const counter = new EncodingCounter(encoding, new BpeEngine(tables, new PieceCache(pieceCacheEntries)));
      ready.set(encoding, counter);
      return counter;
    });
    loaded.set(encoding, loading);
    loading.catch(() => loaded.delete(encoding));
  }
  return loading;
}

/** @deprecated The same function as loadCounter; kept until bench/ switches to that name. */
export const loadEncodingCounter = loadCounter;

/**
 * Counts text without blocking the event loop for long (the counter's sliced form).
 * @example const inputTokens = await countText(counter, hugeDocument)
 */
export function countText(counter: Counter, text: string): Promise<number> {
  return counter.countAsync(text);
}

/** Encodes text like countText, yielding between slices. */
export function encodeText(counter: Counter, text: string): Promise<number[]> {
  return counter.encodeAsync(text);
}

/** Loaded counters, for stats and cache configuration. */
export function loadedCounters(): EncodingCounter[] {
  return [...ready.values()];
}

export function setPieceCacheEntries(entries: number): void {
  pieceCacheEntries = entries;
  for (const counter of ready.values()) counter.engine.pieces.resize(entries);
}

export function pieceCacheCapacity(): number {
  return pieceCacheEntries;
}
