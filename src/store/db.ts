import type { SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type * as schema from './schema';

/** The drizzle handle, whichever driver is underneath (a transaction is one too). */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

/** Something statements run on: the store itself or one open transaction. */
export interface Executor {
  readonly db: Db;
  /** Runs a raw statement and returns its rows; hides that postgres.js and PGlite shape results differently. */
  rows<T extends Record<string, unknown>>(query: SQL): Promise<T[]>;
}

export interface Store extends Executor {
  readonly kind: 'pglite' | 'postgres';
  /** One transaction. PGlite has one connection, so there transactions run one at a time. */
  transaction<T>(body: (tx: Executor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export function executorOf(db: Db): Executor {
  return {
    db,
    async rows<T extends Record<string, unknown>>(query: SQL): Promise<T[]> {
      const result: unknown = await db.execute(query);
      // postgres.js returns the rows array itself; PGlite returns `{ rows, fields, … }`.
      return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
    },
  };
}

export function storeOf(kind: Store['kind'], db: Db, close: () => Promise<void>): Store {
  return {
    ...executorOf(db),
    kind,
    transaction: (body) => db.transaction((tx) => body(executorOf(tx as unknown as Db))),
    close,
  };
}
