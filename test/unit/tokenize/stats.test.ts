import { afterAll, expect, test } from 'vitest';
import { configureTokenizer, loadCounter, tokenizerStats } from '../../../src/tokenize';

afterAll(() => configureTokenizer({ pieceCacheEntries: 32_768, messageCacheBytes: 4 * 1024 * 1024 }));

test('encodings load lazily, one at a time, and report their size', async () => {
  const before = tokenizerStats().encodings.map((e) => e.encoding);
  expect(before).not.toContain('p50k_edit');
  await loadCounter('p50k_edit');
  const loaded = tokenizerStats().encodings.find((e) => e.encoding === 'p50k_edit');
  expect(loaded?.tokens).toBeGreaterThan(50_000);
  expect(loaded?.approxBytes).toBeGreaterThan(1_000_000);
});

test('the piece cache honours its configured cap', async () => {
  const counter = await loadCounter('r50k_base');
  configureTokenizer({ pieceCacheEntries: 64 });
  let text = '';
  for (let i = 0; i < 2000; i++) text += ` qx${i.toString(36)}zv`;
  counter.count(text);
  const piece = tokenizerStats().encodings.find((e) => e.encoding === 'r50k_base')!.pieceCache;
  expect(piece.cap).toBe(64);
  expect(piece.entries).toBeGreaterThan(0);
  expect(piece.entries).toBeLessThanOrEqual(64);
  expect(piece.bytes).toBeGreaterThan(0);
});

test('message cache cap is configurable and reported', () => {
  configureTokenizer({ messageCacheBytes: 12_345 });
  const { messageCache } = tokenizerStats();
  expect(messageCache).toMatchObject({ cap: 12_345, entries: 0, bytes: 0 });
});
