import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import postgres from 'postgres';
import { openStore, type Store } from '../../../src/store';

/**
 * Both databases for `describe.each(databases)`: each `open()` gives a fresh, migrated store whose
 * `close()` also throws its data away (PGlite in memory; on Postgres a new `tg_<random>` database,
 * dropped on close). The server is TOLLGATE_TEST_POSTGRES_URL, else the local one. When it cannot
 * be reached the Postgres cases are left out with a warning, unless CI is set: then they run, and fail.
 */
export const TEST_POSTGRES_URL = process.env.TOLLGATE_TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';

/** A test store; on Postgres it carries its database's URL, for a second instance (`openPeer`). */
export type TestStore = Store & { databaseUrl?: string };

export interface TestDatabase {
  name: 'pglite' | 'postgres';
  open(): Promise<TestStore>;
}

/**
 * Another gateway instance on the same database: a second postgres.js pool on Postgres; on PGlite,
 * which one process owns, the same store. Close it with `closePeer`.
 */
export async function openPeer(store: TestStore): Promise<Store> {
  return store.databaseUrl ? openStore({ databaseUrl: store.databaseUrl, migrate: false }) : store;
}

export async function closePeer(store: TestStore, peer: Store): Promise<void> {
  if (peer !== store) await peer.close();
}

/** A throwaway database on the test server: its URL, and `drop()` to remove it. */
export async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `tg_${randomBytes(6).toString('hex')}`;
  const admin = postgres(TEST_POSTGRES_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const admin = postgres(TEST_POSTGRES_URL, { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}

async function postgresReachable(): Promise<boolean> {
  const probe = postgres(TEST_POSTGRES_URL, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await probe`SELECT 1`;
    return true;
  } catch {
    return false;
  } finally {
    await probe.end({ timeout: 1 }).catch(() => {});
  }
}

const pglite: TestDatabase = { name: 'pglite', open: () => openStore({ dataDir: 'memory://' }) };

const postgresDatabase: TestDatabase = {
  name: 'postgres',
  async open() {
    const database = await createPostgresDatabase();
    // CI checks this file to prove the Postgres half of the suite really ran.
    if (process.env.TOLLGATE_POSTGRES_RAN_FILE) appendFileSync(process.env.TOLLGATE_POSTGRES_RAN_FILE, `${database.url}\n`);
    const store = await openStore({ databaseUrl: database.url });
    return {
      ...store,
      databaseUrl: database.url,
      async close() {
        await store.close();
        await database.drop();
      },
    };
  },
};

const reachable = await postgresReachable();
if (!reachable && !process.env.CI) {
  console.warn(`tollgate tests: Postgres at ${TEST_POSTGRES_URL} is unreachable; its cases are skipped (set CI to make that a failure)`);
}

export const postgresAvailable = reachable || Boolean(process.env.CI);

export const databases: TestDatabase[] = postgresAvailable ? [pglite, postgresDatabase] : [pglite];
