import { Counter, Gauge, type Registry } from 'prom-client';
import { type CacheStats, tokenizerStats } from '../tokenize';

type CacheLabels = 'cache' | 'encoding';

/**
 * The tokenizer's caches, read at scrape time: fill (entries, bytes, fraction of the cap) and
 * lookups. `cache` is `pieces` (per encoding; capped in entries) or `messages` (one chat-message
 * cache, `encoding="all"`; capped in bytes).
 */
export function collectTokenizer(registers: Registry[]): void {
  const caches = () => {
    const stats = tokenizerStats();
    return [
      ...stats.encodings.map((e) => ({ labels: { cache: 'pieces', encoding: e.encoding }, stats: e.pieceCache, byBytes: false })),
      { labels: { cache: 'messages', encoding: 'all' }, stats: stats.messageCache, byBytes: true },
    ];
  };
  const gauge = (name: string, help: string, read: (stats: CacheStats, byBytes: boolean) => number) => {
    const metric: Gauge<CacheLabels> = new Gauge({
      name,
      help,
      labelNames: ['cache', 'encoding'],
      registers,
      collect: () => {
        metric.reset();
        for (const cache of caches()) metric.set(cache.labels, read(cache.stats, cache.byBytes));
      },
    });
  };
  gauge('tollgate_tokenizer_cache_entries', 'Entries in a tokenizer cache', (stats) => stats.entries);
  gauge('tollgate_tokenizer_cache_bytes', 'Approximate bytes held by a tokenizer cache', (stats) => stats.bytes);
  gauge('tollgate_tokenizer_cache_fill_ratio', 'How full a tokenizer cache is, against its cap (entries or bytes)', (stats, byBytes) =>
    stats.cap === 0 ? 0 : (byBytes ? stats.bytes : stats.entries) / stats.cap,
  );
  const lookups: Counter<CacheLabels | 'result'> = new Counter({
    name: 'tollgate_tokenizer_cache_lookups_total',
    help: 'Tokenizer cache lookups, by result (hit, miss)',
    labelNames: ['cache', 'encoding', 'result'],
    registers,
    collect: () => {
      lookups.reset();
      for (const cache of caches()) {
        lookups.inc({ ...cache.labels, result: 'hit' }, cache.stats.hits);
        lookups.inc({ ...cache.labels, result: 'miss' }, cache.stats.misses);
      }
    },
  });
}
