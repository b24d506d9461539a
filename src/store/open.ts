import type { Store } from './db';
import { type Migration, migrate } from './migrate';
import { migrations as embeddedMigrations } from './migrations.generated';
import type { DatabaseTimeouts } from './postgres';

export interface OpenStoreOptions {
  /** `postgres://…`: real Postgres through postgres.js. Absent: embedded PGlite. */
  databaseUrl?: string;
  /** PGlite's data folder (default `./.tollgate`); `memory://` keeps it in memory. */
  dataDir?: string;
  /** postgres.js pool size. */
  maxConnections?: number;
  /** Connect and statement timeouts and our own deadline on every call (Postgres only; see DatabaseTimeouts). */
  timeouts?: DatabaseTimeouts;
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
  /** The migrations to apply (default: the ones embedded from drizzle/). */
  migrations?: readonly Migration[];
  log?: (line: string) => void;
}

export const DEFAULT_DATA_DIR = './.tollgate';

/**
 * Opens the database and brings its schema up to date. The drivers load lazily, so a Workers
 * bundle that always passes `databaseUrl` never starts PGlite.
 *
 * @example
 * const store = await openStore({ databaseUrl: process.env.DATABASE_URL });
 */
export async function openStore(options: OpenStoreOptions = {}): Promise<Store> {
  if (!options.databaseUrl) {
    const store = await (await import('./pglite')).openPgliteStore(options.dataDir ?? DEFAULT_DATA_DIR);
    if (options.migrate !== false) await migrated(store, options.migrations);
    return store;
  }
  const { openPostgresStore } = await import('./postgres');
  if (options.migrate !== false) {
    // On a connection of its own, with no statement timeout or deadline: a migration may
    // rewrite a large table, which is no reason to give up on it.
    const connectTimeoutMs = options.timeouts?.connectTimeoutMs;
    const migrator = openPostgresStore({ databaseUrl: options.databaseUrl, maxConnections: 1, connectTimeoutMs, deadlineMs: 0 });
    await migrated(migrator, options.migrations);
    await migrator.close();
  }
  return openPostgresStore({
    databaseUrl: options.databaseUrl,
    maxConnections: options.maxConnections,
    log: options.log,
    ...options.timeouts,
  });
}

/** Applies pending migrations; on failure closes the store and rethrows. */
async function migrated(store: Store, migrations: readonly Migration[] | undefined): Promise<void> {
  try {
    await migrate(store, migrations ?? embeddedMigrations);
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
}
