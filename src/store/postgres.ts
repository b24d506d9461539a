import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { Db, Executor, Store } from './db';
import * as schema from './schema';

export interface PostgresStoreOptions {
  databaseUrl: string;
  /** Pool size (postgres.js `max`). */
  maxConnections?: number;
  /**
   * Prepare raw statements (the ledger's): the admission statement then skips planning, which
   * costs more than running it. Turn off behind transaction-mode poolers (PgBouncer).
   */
  prepare?: boolean;
}

const dialect = new PgDialect();

/** A store on a real Postgres server through postgres.js. */
export function openPostgresStore(options: PostgresStoreOptions): Store {
  const prepare = options.prepare ?? true;
  const client = postgres(options.databaseUrl, {
    max: options.maxConnections ?? 10,
    prepare,
    onnotice: () => {},
    connection: { application_name: 'tollgate' },
  });
  // drizzle() also installs its type parsers on the client (timestamps as text), so raw rows read
  // through the client below match what drizzle's own execute would return.
  const db = drizzle(client, { schema }) as unknown as Db;
  return {
    ...executorOn(client, db, prepare),
    kind: 'postgres',
    async transaction<T>(body: (tx: Executor) => Promise<T>): Promise<T> {
      const txDb = (tx: postgres.TransactionSql) => () => drizzle(tx as unknown as postgres.Sql, { schema }) as unknown as Db;
      return (await client.begin((tx) => body(executorOn(tx, txDb(tx), prepare)))) as T;
    },
    close: () => client.end({ timeout: 5 }),
  };
}

/** Raw statements go straight to postgres.js, as named prepared statements when `prepare`. */
function executorOn(sqlClient: postgres.Sql | postgres.TransactionSql, db: Db | (() => Db), prepare: boolean): Executor {
  let drizzleDb = typeof db === 'function' ? null : db;
  return {
    get db() {
      drizzleDb ??= (db as () => Db)();
      return drizzleDb;
    },
    async rows<T extends Record<string, unknown>>(query: SQL): Promise<T[]> {
      const { sql: text, params } = dialect.sqlToQuery(query);
      return (await sqlClient.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare })) as unknown as T[];
    },
    async query<T extends Record<string, unknown>>(text: string, params: unknown[]): Promise<T[]> {
      return (await sqlClient.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare })) as unknown as T[];
    },
  };
}
