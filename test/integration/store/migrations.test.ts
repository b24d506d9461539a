import { fileURLToPath } from 'node:url';
import { getTableName, is, sql } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import { afterAll, describe, expect, test } from 'vitest';
import { MigrationError, migrate, migrations, openStore, type Store, schema } from '../../../src/store';
import { readMigrationsDir, renderMigrationsModule } from '../../../src/store/migrations-dir';
import { createPostgresDatabase, databases, postgresAvailable } from '../support/databases';

const drizzleDir = fileURLToPath(new URL('../../../drizzle', import.meta.url));

/** Every table the drizzle schema declares, plus the runner's own. */
const expectedTables = [
  ...Object.values(schema)
    .filter((value) => is(value, PgTable))
    .map((table) => getTableName(table as PgTable)),
  'tollgate_migrations',
].sort();

/** Tables (partitioned ones included, but not their partitions, nor views). */
const tables = (store: Store) =>
  store.rows<{ name: string }>(sql`
    SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1`);

describe('embedded migrations', () => {
  test('match the SQL files in drizzle/ (run scripts/embed-migrations.ts after drizzle-kit generate)', async () => {
    const fromFiles = readMigrationsDir(drizzleDir);
    expect(migrations).toEqual(fromFiles);
    const { readFileSync } = await import('node:fs');
    const module = readFileSync(fileURLToPath(new URL('../../../src/store/migrations.generated.ts', import.meta.url)), 'utf8');
    expect(module).toBe(renderMigrationsModule(fromFiles));
  });
});

describe.each(databases)('migrations on $name', (database) => {
  let store: Store | undefined;
  afterAll(async () => store?.close());

  test('open applies them once; running again applies nothing and keeps data', async () => {
    store = await database.open();
    expect((await tables(store)).map((t) => t.name)).toEqual(expectedTables);
    await store.rows(sql`INSERT INTO admin_secrets (name, hash) VALUES ('operator', 'abc')`);
    expect(await migrate(store, migrations)).toEqual({ applied: [] });
    expect(await migrate(store, migrations)).toEqual({ applied: [] });
    expect(await store.rows(sql`SELECT hash FROM admin_secrets`)).toEqual([{ hash: 'abc' }]);
    const recorded = await store.rows<{ tag: string }>(sql`SELECT tag FROM tollgate_migrations`);
    expect(recorded.map((r) => r.tag)).toEqual(migrations.map((m) => m.tag));
  });

  test('a later migration is applied on its own; an edited applied one is refused', async () => {
    const next = { tag: '9999_test_extra', hash: 'h1', statements: ['CREATE TABLE test_extra (id int)'] };
    expect(await migrate(store!, [...migrations, next])).toEqual({ applied: ['9999_test_extra'] });
    expect(await migrate(store!, [...migrations, next])).toEqual({ applied: [] });
    await expect(migrate(store!, [...migrations, { ...next, hash: 'h2' }])).rejects.toBeInstanceOf(MigrationError);
  });

  test('a failing migration leaves nothing behind', async () => {
    const broken = { tag: '9999_test_broken', hash: 'b', statements: ['CREATE TABLE test_half (id int)', 'THIS IS NOT SQL'] };
    await expect(migrate(store!, [...migrations, broken])).rejects.toThrow();
    const names = (await tables(store!)).map((t) => t.name);
    expect(names).not.toContain('test_half');
    expect(await migrate(store!, migrations)).toEqual({ applied: [] });
  });

  test('concurrent migrations on one store serialize', async () => {
    const results = await Promise.all([migrate(store!, migrations), migrate(store!, migrations)]);
    expect(results).toEqual([{ applied: [] }, { applied: [] }]);
  });
});

describe.runIf(postgresAvailable)('migrations from two instances at once on postgres', () => {
  test('two postgres.js clients migrating one empty database at once: one applies, the other finds it done', async () => {
    const database = await createPostgresDatabase();
    const stores = [
      await openStore({ databaseUrl: database.url, migrate: false }),
      await openStore({ databaseUrl: database.url, migrate: false }),
    ];
    try {
      const results = await Promise.all(stores.map((store) => migrate(store, migrations)));
      const applied = results.map((r) => r.applied).sort((a, b) => b.length - a.length);
      expect(applied).toEqual([migrations.map((m) => m.tag), []]);
      expect((await tables(stores[0]!)).map((t) => t.name)).toEqual(expectedTables);
      // And openStore racing itself, as instances starting together do.
      const more = await Promise.all([openStore({ databaseUrl: database.url }), openStore({ databaseUrl: database.url })]);
      for (const store of more) await store.close();
    } finally {
      for (const store of stores) await store.close();
      await database.drop();
    }
  });
});

describe.each(databases)('the ledger partitions on $name', (database) => {
  let store: Store | undefined;
  afterAll(async () => store?.close());

  test('usage_events is partitioned by month; a month without its partition lands in the default one and moves into it when it is made', async () => {
    store = await database.open();
    const { ensureUsagePartitions, createKey } = await import('../../../src/store');
    await createKey(store, { id: 'key_p', name: 'p', prefix: 'p', hash: 'h_p', scopes: ['proxy'] });
    const insert = (requestId: string, startedAt: string) =>
      store!.rows(sql`
        INSERT INTO usage_events (request_id, key_id, endpoint, requested_model, status, stream, started_at, started_month)
        VALUES (${requestId}, 'key_p', 'chat.completions', 'gpt-4', 'rejected', false, ${startedAt}::timestamptz, date_trunc('month', ${startedAt}::timestamptz AT TIME ZONE 'UTC')::date)`);
    const partitionOf = async (requestId: string) =>
      (
        await store!.rows<{ partition: string }>(
          sql`SELECT tableoid::regclass::text AS partition FROM usage_events WHERE request_id = ${requestId}`,
        )
      )[0]?.partition;

    await insert('req_far', '2031-05-17T12:00:00Z');
    expect(await partitionOf('req_far')).toBe('usage_events_default');
    expect(await ensureUsagePartitions(store, new Date('2031-05-01T00:00:00Z'), 0)).toBe(1);
    expect(await partitionOf('req_far')).toBe('usage_events_y2031m05');
    expect(await ensureUsagePartitions(store, new Date('2031-05-20T00:00:00Z'), 0)).toBe(0);
    await insert('req_far_2', '2031-05-31T23:59:59Z');
    expect(await partitionOf('req_far_2')).toBe('usage_events_y2031m05');
  });
});
