import { sql } from 'drizzle-orm';
import { describe, expect, test } from 'vitest';
import { compile } from '../../../src/store/db';
import { databases } from '../support/databases';

// A statement compiled once runs the same on the store and inside a transaction (where drizzle
// executes it), with placeholders used twice, fixed values, nulls and booleans in between.
const probe = compile<{ word: string; n: number | null; flag: boolean }>(sql`
  SELECT ${sql.placeholder('word')}::text AS word, ${sql.placeholder('word')}::text || ${'!'}::text AS shout,
    ${sql.placeholder('n')}::int AS n, ${sql.placeholder('flag')}::boolean AS flag, ${41}::int + 1 AS fixed`);

describe.each(databases)('compiled statements on $name', (database) => {
  test('fill their placeholders per call, on the store and in a transaction alike', async () => {
    const store = await database.open();
    try {
      const expected = [{ word: 'toll', shout: 'toll!', n: null, flag: true, fixed: 42 }];
      expect(await store.query(probe.text, probe.params({ word: 'toll', n: null, flag: true }))).toEqual(expected);
      const inTransaction = await store.transaction((tx) => tx.query(probe.text, probe.params({ word: 'toll', n: null, flag: true })));
      expect(inTransaction).toEqual(expected);
      expect(await store.query(probe.text, probe.params({ word: 'gate', n: 7, flag: false }))).toEqual([
        { word: 'gate', shout: 'gate!', n: 7, flag: false, fixed: 42 },
      ]);
    } finally {
      await store.close();
    }
  });
});
