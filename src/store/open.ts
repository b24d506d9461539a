import type { Store } from './db';
import { type Migration, migrate } from './migrate';
import { migrations as embeddedMigrations } from './migrations.generated';

export interface OpenStoreOptions {
  /** `postgres://…`: real Postgres through postgres.js. Absent: embedded PGlite. */
  databaseUrl?: string;
  /** PGlite's data folder (default `./.tollgate`); `memory://` keeps it in memory. */
  dataDir?: string;
  /** postgres.js pool size. */
  maxConnections?: number;
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
  /** The migrations to apply (default: the ones embedded from drizzle/). */
  migrations?: readonly Migration[];
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
  const store = options.databaseUrl
    ? (await import('./postgres')).openPostgresStore({ databaseUrl: options.databaseUrl, maxConnections: options.maxConnections })
    : await (await import('./pglite')).openPgliteStore(options.dataDir ?? DEFAULT_DATA_DIR);
  if (options.migrate !== false) {
    try {
      await migrate(store, options.migrations ?? embeddedMigrations);
    } catch (error) {
      await store.close().catch(() => {});
      throw error;
    }
  }
  return store;
}
