import { charClassTableBytes } from './char-classes';
import { loadedCounters, pieceCacheCapacity, setPieceCacheEntries } from './counter';
import { HOT_PIECE_SLOTS } from './hot-pieces';
import { messageCache } from './message-cache';

export interface TokenizerSettings {
  /** Max cached pieces (text → ids) per encoding; 0 disables the piece cache. */
  pieceCacheEntries?: number;
  /** Max approximate bytes of the chat message cache; 0 disables it. */
  messageCacheBytes?: number;
}

/**
 * Sets cache caps; changing a cap empties that cache.
 * @example configureTokenizer({ pieceCacheEntries: 10_000, messageCacheBytes: 1 << 20 })
 */
export function configureTokenizer(settings: TokenizerSettings): void {
  if (settings.pieceCacheEntries !== undefined) setPieceCacheEntries(Math.max(0, settings.pieceCacheEntries));
  if (settings.messageCacheBytes !== undefined) messageCache.resize(Math.max(0, settings.messageCacheBytes));
}

export interface CacheStats {
  entries: number;
  bytes: number;
  cap: number;
  hits: number;
  misses: number;
}

export interface TokenizerStats {
  encodings: {
    encoding: string;
    tokens: number;
    approxBytes: number;
    pieceCache: CacheStats;
    hotPieces: { entries: number; cap: number };
  }[];
  messageCache: CacheStats;
  charClassTableBytes: number;
  pieceCacheCap: number;
}

/** Memory and cache figures for /metrics and tests: what is loaded and how full each cache is. */
export function tokenizerStats(): TokenizerStats {
  return {
    encodings: loadedCounters().map(({ encoding, engine }) => ({
      encoding,
      tokens: engine.tables.tokenCount,
      // rank tables plus the pair index built from them
      approxBytes: engine.tables.approxBytes + engine.pairs.bytes,
      pieceCache: {
        entries: engine.pieces.entries,
        bytes: engine.pieces.bytes,
        cap: engine.pieces.cap,
        hits: engine.pieces.hits,
        misses: engine.pieces.misses,
      },
      hotPieces: { entries: engine.hot.entries, cap: HOT_PIECE_SLOTS },
    })),
    messageCache: {
      entries: messageCache.entries,
      bytes: messageCache.bytes,
      cap: messageCache.cap,
      hits: messageCache.hits,
      misses: messageCache.misses,
    },
    charClassTableBytes: charClassTableBytes(),
    pieceCacheCap: pieceCacheCapacity(),
  };
}
