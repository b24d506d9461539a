import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { Db, Executor, Store, TransactionOptions } from './db';
import { withDeadline, withIdleDeadline } from './errors';
import * as schema from './schema';

/** How long the database may take, and how long connections live. Every field has a default. */
export interface DatabaseTimeouts {
  /** Opening a connection (postgres.js `connect_timeout`; default 5 s). */
  connectTimeoutMs?: number;
  /**
   * The server's `statement_timeout`, sent at connect (default: none, the server's own). Poolers
   * that refuse startup parameters (PgBouncer without `ignore_startup_parameters`) need none.
   */
  statementTimeoutMs?: number;
  /**
   * Our own deadline on every statement and transaction (default: the statement timeout + 5 s,
   * else 15 s; 0: none). A stalled link answers nothing, so no server setting can end it: past
   * this the call fails as unavailable and the pool is replaced (see `replaceClient`).
   */
  deadlineMs?: number;
  /** An idle connection is closed after this (default 60 s): links to a gone server do not linger. */
  idleTimeoutMs?: number;
  /** A connection is replaced after this (default: postgres.js's 30 to 60 min). */
  maxLifetimeMs?: number;
}

export interface PostgresStoreOptions extends DatabaseTimeouts {
  databaseUrl: string;
  /** Pool size (postgres.js `max`). */
  maxConnections?: number;
  /**
   * Prepare raw statements (the ledger's): the admission statement then skips planning, which
   * costs more than running it. Turn off behind transaction-mode poolers (PgBouncer).
   */
  prepare?: boolean;
  log?: (line: string) => void;
}

/** One postgres.js pool and the drizzle handle on it; replaced whole when it cannot be trusted. */
interface Pool {
  client: postgres.Sql;
  db: Db;
  generation: number;
}

const dialect = new PgDialect();
const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);

/**
 * A store on a real Postgres server through postgres.js. Every raw statement and transaction has
 * a deadline; when one runs out, or the driver misbehaves (`replaceClient`), the pool is replaced
 * by a fresh one and the old one is ended at once: its calls fail (callers retry or answer 503)
 * instead of waiting on a link that may never answer (porsager/postgres#1130: a query sent on a
 * connection broken by a reset never settles).
 *
 * @example
 * const store = openPostgresStore({ databaseUrl, statementTimeoutMs: 10_000 });
 */
export function openPostgresStore(options: PostgresStoreOptions): Store & { replaceClient(reason: string): void } {
  const prepare = options.prepare ?? true;
  const deadlineMs = options.deadlineMs ?? (options.statementTimeoutMs ? options.statementTimeoutMs + 5_000 : 15_000);
  const log = options.log ?? ((line: string) => console.error(line));
  let closed = false;

  const connect = (generation: number): Pool => {
    const client = postgres(options.databaseUrl, {
      max: options.maxConnections ?? 10,
      prepare,
      onnotice: () => {},
      connect_timeout: seconds(options.connectTimeoutMs ?? 5_000),
      idle_timeout: seconds(options.idleTimeoutMs ?? 60_000),
      ...(options.maxLifetimeMs ? { max_lifetime: seconds(options.maxLifetimeMs) } : {}),
      connection: {
        application_name: 'tollgate',
        ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
      },
    });
    const made = { client, generation } as Pool;
    // drizzle() also installs its type parsers on the client (timestamps as text), so raw rows read
    // through the client below match what drizzle's own execute would return.
    made.db = drizzle(watched(client, made, deadlineMs, replace), { schema }) as unknown as Db;
    return made;
  };

  /** Only the pool `stale` is replaced: calls that ran out on an older one changed nothing since. */
  function replace(stale: Pool, reason: string): void {
    if (closed || pool !== stale) return;
    pool = connect(stale.generation + 1);
    log(`tollgate: database pool replaced (${reason})`);
    // Ends its connections now: what they hold fails (and is retried by its caller), nothing waits for them.
    void stale.client.end({ timeout: 0 }).catch(() => {});
  }

  let pool = connect(0);
  const guarded = <T>(run: (current: Pool) => Promise<T>): Promise<T> => {
    const current = pool;
    return withDeadline(run(current), deadlineMs, () => replace(current, `no answer within ${deadlineMs} ms`));
  };

  return {
    kind: 'postgres',
    get db() {
      return pool.db;
    },
    rows: <T extends Record<string, unknown>>(query: SQL) => guarded((current) => rawRows<T>(current.client, query, prepare)),
    query: <T extends Record<string, unknown>>(text: string, params: unknown[]) =>
      guarded((current) => rawQuery<T>(current.client, text, params, prepare)),
    // The deadline of a transaction runs from its last statement's answer, not from BEGIN: a report
    // or a month close may take many statements, and only one that stalls replaces the pool.
    transaction<T>(body: (tx: Executor) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
      const current = pool;
      const longer = options.statementTimeoutMs;
      const limitMs = longer && deadlineMs > 0 ? Math.max(deadlineMs, longer + 5_000) : deadlineMs;
      return withIdleDeadline(
        limitMs,
        () => replace(current, `no answer within ${limitMs} ms`),
        async (progress) => {
          // drizzle reads the client's options (its type parsers); a transaction handle has none of its own.
          const txDb = (tx: postgres.TransactionSql) => () =>
            drizzle(
              new Proxy(tx, {
                get: (target, property, receiver) => {
                  if (property === 'options') return current.client.options;
                  const value = Reflect.get(target, property, receiver);
                  if (property !== 'unsafe') return value;
                  return (...args: unknown[]) => progress((value as (...a: unknown[]) => PromiseLike<unknown>)(...args));
                },
              }) as unknown as postgres.Sql,
              { schema },
            ) as unknown as Db;
          return (await current.client.begin((tx) => body(executorOn(tx, txDb(tx), prepare, progress)))) as T;
        },
      );
    },
    replaceClient: (reason) => replace(pool, reason),
    close: async () => {
      closed = true;
      await pool.client.end({ timeout: 5 });
    },
  };
}

/**
 * The client as drizzle's query builders see it: each call is watched, and one that runs past the
 * deadline replaces the pool, which fails it (drizzle awaits postgres.js's own query object, so
 * it cannot be raced here without breaking it).
 */
function watched(client: postgres.Sql, pool: Pool, deadlineMs: number, replace: (stale: Pool, reason: string) => void): postgres.Sql {
  if (!(deadlineMs > 0)) return client;
  const watch = <T extends PromiseLike<unknown>>(call: T): T => {
    const timer = setTimeout(() => replace(pool, `no answer within ${deadlineMs} ms`), deadlineMs);
    call.then(
      () => clearTimeout(timer),
      () => clearTimeout(timer),
    );
    return call;
  };
  return new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property !== 'unsafe' && property !== 'begin') return value;
      return (...args: unknown[]) => watch((value as (...a: unknown[]) => PromiseLike<unknown>)(...args));
    },
  });
}

type Client = postgres.Sql | postgres.TransactionSql;

/** Raw statements go straight to postgres.js, as named prepared statements when `prepare`. */
async function rawQuery<T>(client: Client, text: string, params: unknown[], prepare: boolean): Promise<T[]> {
  return (await client.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare })) as unknown as T[];
}

function rawRows<T>(client: Client, query: SQL, prepare: boolean): Promise<T[]> {
  const { sql: text, params } = dialect.sqlToQuery(query);
  return rawQuery<T>(client, text, params, prepare);
}

/** A transaction as an Executor: raw statements on it, and a drizzle handle made when first asked. */
function executorOn(
  tx: postgres.TransactionSql,
  db: () => Db,
  prepare: boolean,
  progress: <S extends PromiseLike<unknown>>(step: S) => S,
): Executor {
  let drizzleDb: Db | null = null;
  return {
    get db() {
      drizzleDb ??= db();
      return drizzleDb;
    },
    rows: (query) => progress(rawRows(tx, query, prepare)),
    query: (text, params) => progress(rawQuery(tx, text, params, prepare)),
  };
}
