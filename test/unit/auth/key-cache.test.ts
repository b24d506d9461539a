import { describe, expect, test } from 'vitest';
import { KeyCache } from '../../../src/auth/key-cache';
import type { Caller } from '../../../src/deps';

const caller: Caller = {
  kind: 'key',
  keyId: 'key_1',
  name: 'one',
  teamId: null,
  scopes: ['proxy'],
  allowedModels: null,
  options: {},
  hasBudget: false,
};
const outage = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
const isOutage = (error: unknown) => (error as { code?: string }).code === 'ECONNREFUSED';

/** A lookup whose answers the test scripts: a caller, null, or a thrown error. */
function scripted() {
  const answers: (Caller | null | Error)[] = [];
  let calls = 0;
  const lookup = async () => {
    calls++;
    const next = answers.shift();
    if (next instanceof Error) throw next;
    return next ?? null;
  };
  return { answers, lookup, calls: () => calls };
}

describe('KeyCache', () => {
  test('a hit within the TTL costs no lookup; after it, the key is looked up again', async () => {
    const db = scripted();
    const cache = new KeyCache(db.lookup, { ttlMs: 20 });
    db.answers.push(caller, caller);
    expect(await cache.find('h')).toBe(caller);
    expect(await cache.find('h')).toBe(caller);
    expect(db.calls()).toBe(1);
    await new Promise((r) => setTimeout(r, 30));
    expect(await cache.find('h')).toBe(caller);
    expect(db.calls()).toBe(2);
  });

  test('during an outage an expired live key is served from its stale entry', async () => {
    const db = scripted();
    const cache = new KeyCache(db.lookup, { ttlMs: 10, maxEntries: 100, serveStaleOn: isOutage });
    db.answers.push(caller, outage);
    await cache.find('h');
    await new Promise((r) => setTimeout(r, 20));
    expect(await cache.find('h')).toBe(caller);
    expect(db.calls()).toBe(2);
  });

  test('during an outage an unknown key, or one last seen invalid, still fails', async () => {
    const db = scripted();
    const cache = new KeyCache(db.lookup, { ttlMs: 10, maxEntries: 100, serveStaleOn: isOutage });
    db.answers.push(outage);
    await expect(cache.find('never-seen')).rejects.toBe(outage);
    db.answers.push(null, outage);
    expect(await cache.find('bad')).toBeNull();
    await new Promise((r) => setTimeout(r, 1_050)); // misses are kept for 1 s
    await expect(cache.find('bad')).rejects.toBe(outage);
  });

  test('other lookup errors are never papered over with a stale entry', async () => {
    const db = scripted();
    const cache = new KeyCache(db.lookup, { ttlMs: 10, maxEntries: 100, serveStaleOn: isOutage });
    const bug = new Error('column "hash" does not exist');
    db.answers.push(caller, bug);
    await cache.find('h');
    await new Promise((r) => setTimeout(r, 20));
    await expect(cache.find('h')).rejects.toBe(bug);
  });

  test('a revoked key is forgotten at once, stale entry included', async () => {
    const db = scripted();
    const cache = new KeyCache(db.lookup, { ttlMs: 10_000, maxEntries: 100, serveStaleOn: isOutage });
    db.answers.push(caller, outage);
    await cache.find('h');
    cache.invalidate('key_1');
    await expect(cache.find('h')).rejects.toBe(outage);
  });
});
