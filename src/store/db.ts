import { Placeholder, type SQL, sql } from 'drizzle-orm';
import { type PgDatabase, PgDialect, type PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type * as schema from './schema';

/** The drizzle handle, whichever driver is underneath (a transaction is one too). */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

/** Something statements run on: the store itself or one open transaction. */
export interface Executor {
  readonly db: Db;
  /** Runs a raw statement and returns its rows; hides that postgres.js and PGlite shape results differently. */
  rows<T extends Record<string, unknown>>(query: SQL): Promise<T[]>;
  /** Runs a statement compiled once (see `compile`) with this call's parameters. */
  query<T extends Record<string, unknown>>(text: string, params: unknown[]): Promise<T[]>;
}

/** Runs SQL text with `$n` parameters straight on a driver. */
export type RawQuery = <T extends Record<string, unknown>>(text: string, params: unknown[]) => Promise<T[]>;

const dialect = new PgDialect();

/** A statement built once; `params` fills its named placeholders for one call. */
export interface Compiled<V extends Record<string, unknown>> {
  readonly text: string;
  params(values: V): unknown[];
}

/**
 * Builds a hot statement's SQL once: drizzle's per-call building measured as several percent of
 * the gateway's CPU. Dynamic values are `sql.placeholder(name)`; everything else is fixed.
 *
 * @example
 * const byId = compile<{ id: string }>(sql`SELECT * FROM api_keys WHERE id = ${sql.placeholder('id')}`);
 * await ex.query(byId.text, byId.params({ id }));
 */
export function compile<V extends Record<string, unknown>>(query: SQL): Compiled<V> {
  const { sql: text, params } = dialect.sqlToQuery(query);
  const slots = params.map((param): { name: string } | { value: unknown } =>
    param instanceof Placeholder ? { name: String(param.name) } : { value: param },
  );
  return {
    text,
    params: (values) => slots.map((slot) => ('name' in slot ? values[slot.name as keyof V] : slot.value)),
  };
}

/** The same statement as drizzle SQL, for executors with no raw driver at hand (a drizzle transaction). */
function sqlFromText(text: string, params: unknown[]): SQL {
  const chunks: SQL[] = [];
  let last = 0;
  for (const match of text.matchAll(/\$(\d+)/g)) {
    chunks.push(sql.raw(text.slice(last, match.index)));
    chunks.push(sql`${params[Number(match[1]) - 1]}`);
    last = match.index + match[0].length;
  }
  chunks.push(sql.raw(text.slice(last)));
  return sql.join(chunks);
}

export interface TransactionOptions {
  /**
   * Each statement's time limit in this transaction: our deadline becomes 5 s after it. The body
   * sets the server's own (`allowSlowStatements`), after any SET TRANSACTION, which must come first.
   */
  statementTimeoutMs?: number;
}

export interface Store extends Executor {
  readonly kind: 'pglite' | 'postgres';
  /**
   * One transaction. PGlite has one connection, so there transactions run one at a time.
   * `statementTimeoutMs` gives this transaction's statements longer than the store's own limit
   * (a month's tie-out at 10M rows reads for tens of seconds); a store with no deadline ignores it.
   */
  transaction<T>(body: (tx: Executor) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * Replaces the connection pool with a fresh one and ends the old one at once (its calls fail and
   * are retried by their callers): after a driver fault, or a link that stopped answering. Only
   * stores on a network have one.
   */
  replaceClient?(reason: string): void;
  close(): Promise<void>;
}

/** Statements through drizzle; `raw`, when given, runs compiled ones on the driver itself. */
export function executorOf(db: Db, raw?: RawQuery): Executor {
  const rows = async <T extends Record<string, unknown>>(query: SQL): Promise<T[]> => {
    const result: unknown = await db.execute(query);
    // postgres.js returns the rows array itself; PGlite returns `{ rows, fields, … }`.
    return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
  };
  return {
    db,
    rows,
    query: raw ?? ((text, params) => rows(sqlFromText(text, params))),
  };
}

export function storeOf(kind: Store['kind'], db: Db, close: () => Promise<void>, raw?: RawQuery): Store {
  return {
    ...executorOf(db, raw),
    kind,
    transaction: (body) => db.transaction((tx) => body(executorOf(tx as unknown as Db))),
    close,
  };
}
