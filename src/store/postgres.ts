import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { storeOf, type Db, type Store } from './db';
import * as schema from './schema';

export interface PostgresStoreOptions {
  databaseUrl: string;
  /** Pool size (postgres.js `max`). */
  maxConnections?: number;
  /** Use prepared statements; turn off behind transaction-mode poolers (PgBouncer). */
  prepare?: boolean;
}

/** A store on a real Postgres server through postgres.js. */
export function openPostgresStore(options: PostgresStoreOptions): Store {
  const client = postgres(options.databaseUrl, {
    max: options.maxConnections ?? 10,
    prepare: options.prepare ?? true,
    onnotice: () => {},
    connection: { application_name: 'tollgate' },
  });
  const db = drizzle(client, { schema }) as unknown as Db;
  return storeOf('postgres', db, () => client.end({ timeout: 5 }));
}
