import type { Caller } from '../deps';

interface Entry {
  caller: Caller | null;
  expiresAt: number;
}

/**
 * Caches key lookups by hash for a few seconds, so auth costs no database round trip on a hot
 * key. Revocation still bites at once: admission re-checks the key in the same statement that
 * reserves, and this instance drops a revoked key's entry immediately.
 */
export class KeyCache {
  private readonly entries = new Map<string, Entry>();

  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #serveStaleOn: (error: unknown) => boolean;

  constructor(
    private readonly lookup: (hash: string) => Promise<Caller | null>,
    options: {
      ttlMs?: number;
      maxEntries?: number;
      /**
       * Lookup failures (the database unreachable) for which a live key's expired entry is served
       * instead: admission then decides, and it reaches the same database, so such a request still
       * fails closed unless its key is `failOpen`. A key never seen, or last seen invalid, rethrows.
       */
      serveStaleOn?: (error: unknown) => boolean;
    } = {},
  ) {
    this.#ttlMs = options.ttlMs ?? 5_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#serveStaleOn = options.serveStaleOn ?? (() => false);
  }

  async find(hash: string, options: { fresh?: boolean } = {}): Promise<Caller | null> {
    const now = Date.now();
    const hit = this.entries.get(hash);
    if (hit && hit.expiresAt > now && !options.fresh) return hit.caller;
    let caller: Caller | null;
    try {
      caller = await this.lookup(hash);
    } catch (error) {
      if (hit?.caller && this.#serveStaleOn(error)) return hit.caller;
      throw error;
    }
    if (this.entries.size >= this.#maxEntries) this.entries.delete(this.entries.keys().next().value!);
    // Misses are kept briefly too, so a flood of bad keys cannot become a flood of queries.
    this.entries.set(hash, { caller, expiresAt: now + (caller ? this.#ttlMs : 1_000) });
    return caller;
  }

  /** Forgets a key (all keys when no id is given), e.g. after revoke, rotate or an options change. */
  invalidate(keyId?: string): void {
    if (keyId === undefined) return this.entries.clear();
    for (const [hash, entry] of this.entries) if (entry.caller?.kind === 'key' && entry.caller.keyId === keyId) this.entries.delete(hash);
  }
}
