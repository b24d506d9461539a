/**
 * Token counts of whole chat messages, keyed by encoding, chat rules and the message's
 * content. A conversation re-sends its history every turn; with this cache a turn costs only
 * its new messages. Bounded by (approximate) bytes, least recently used evicted first.
 */
export class MessageCache {
  // Map iteration order is insertion order: re-inserting on a hit keeps the oldest first.
  private readonly counts = new Map<string, number>();
  private usedBytes = 0;
  hits = 0;
  misses = 0;

  constructor(private capBytes: number) {}

  get(key: string): number | undefined {
    const tokens = this.counts.get(key);
    if (tokens === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.counts.delete(key);
    this.counts.set(key, tokens);
    return tokens;
  }

  set(key: string, tokens: number): void {
    const size = entryBytes(key);
    // One huge message must not flush everyone else's history.
    if (size > this.capBytes / 4 || this.counts.has(key)) return;
    this.counts.set(key, tokens);
    this.usedBytes += size;
    for (const oldest of this.counts.keys()) {
      if (this.usedBytes <= this.capBytes) break;
      this.counts.delete(oldest);
      this.usedBytes -= entryBytes(oldest);
    }
  }

  resize(capBytes: number): void {
    this.capBytes = capBytes;
    this.clear();
  }

  clear(): void {
    this.counts.clear();
    this.usedBytes = 0;
  }

  get entries(): number {
    return this.counts.size;
  }

  get bytes(): number {
    return this.usedBytes;
  }

  get cap(): number {
    return this.capBytes;
  }
}

/** UTF-16 key plus Map slot and boxed count. */
function entryBytes(key: string): number {
  return key.length * 2 + 64;
}

/** The process-wide message cache (4 MB unless configured otherwise). */
export const messageCache = new MessageCache(4 * 1024 * 1024);
