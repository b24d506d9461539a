import type { EncodingName } from '../config';
import { BpeEngine } from './engine';
import { PieceCache } from './piece-cache';
import { loadEncodingTables } from './ranks';
import { yieldToEventLoop } from './yield';

/** Turns text into token ids for one encoding. Special-token strings are ordinary text. */
export interface Counter {
  readonly encoding: EncodingName;
  encode(text: string): number[];
  count(text: string): number;
}

/** Work units per slice of an async count (~1–4 ms here; well under the 20 ms budget). */
export const SLICE_WORK = 8_192;
/** Wall-clock cap per slice where the clock runs during a task (Node; not Workers). */
const SLICE_MS = 5;
const DEFAULT_PIECE_CACHE_ENTRIES = 32_768;

let pieceCacheEntries = DEFAULT_PIECE_CACHE_ENTRIES;

/** A Counter backed by our engine; counts ids identical to tiktoken's Rust core. */
export class EncodingCounter implements Counter {
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

/** Loads an encoding's ranks on first use only, so unused encodings cost no memory. */
export function loadCounter(encoding: EncodingName): Promise<Counter> {
  return loadEncodingCounter(encoding);
}

export function loadEncodingCounter(encoding: EncodingName): Promise<EncodingCounter> {
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

/**
 * Counts text, yielding between slices when the counter is ours; any other Counter (a test
 * double) is simply called.
 */
export function countText(counter: Counter, text: string): Promise<number> {
  if (counter instanceof EncodingCounter) return counter.countAsync(text);
  return Promise.resolve(counter.count(text));
}

/** Encodes text like countText, yielding between slices. */
export function encodeText(counter: Counter, text: string): Promise<number[]> {
  if (counter instanceof EncodingCounter) return counter.encodeAsync(text);
  return Promise.resolve(counter.encode(text));
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
