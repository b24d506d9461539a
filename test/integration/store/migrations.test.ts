import { fileURLToPath } from 'node:url';
import { getTableName, is, sql } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import { afterAll, describe, expect, test } from 'vitest';
import { migrate, migrations, openStore, MigrationError, schema, type Store } from '../../../src/store';
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

const tables = (store: Store) =>
  store.rows<{ name: string }>(sql`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`);

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
