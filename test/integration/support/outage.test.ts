// The outage relay itself, on the real Postgres: what a postgres.js client sees through a stall,
// a resume and a reset.
import postgres from 'postgres';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { postgresAvailable, TEST_POSTGRES_URL } from './databases';
import { PostgresOutage } from './outage';

describe.skipIf(!postgresAvailable)('PostgresOutage on Postgres', () => {
  let relay: PostgresOutage;
  let sql: postgres.Sql;
  const open = () => postgres(relay.urlFor(TEST_POSTGRES_URL), { max: 1, onnotice: () => {} });

  beforeEach(async () => {
    relay = await PostgresOutage.prepare(TEST_POSTGRES_URL);
    await relay.up();
    sql = open();
    await sql`SELECT 1`; // the connection is open through the relay before anything goes wrong
  });

  afterEach(async () => {
    relay.resume();
    await sql.end({ timeout: 1 });
    await relay.down();
  });

  /** Settles like `query`, and says whether it already has. */
  function watch<T>(query: Promise<T>) {
    const watched = { settled: false, result: query };
    watched.result = query.finally(() => (watched.settled = true));
    return watched;
  }

  test('a query through a stalled relay does not complete until it resumes', async () => {
    relay.stall();
    const query = watch(sql`SELECT 41 + 1 AS answer`.then((rows) => rows[0]?.answer));
    await relay.held(); // the query's bytes reached the relay and stopped there
    expect(query.settled).toBe(false);
    relay.resume();
    expect(await query.result).toBe(42);
  });

  test('a new connection is accepted while stalled, and hangs until resumed', async () => {
    relay.stall();
    const fresh = open();
    try {
      const query = watch(fresh`SELECT 'hello' AS greeting`.then((rows) => rows[0]?.greeting));
      await relay.held();
      expect(query.settled).toBe(false);
      relay.resume();
      expect(await query.result).toBe('hello');
    } finally {
      await fresh.end({ timeout: 1 });
    }
  });

  test('reset after a stall: the waiting query fails with a connection error, and the relay still serves', async () => {
    relay.stall();
    const query = sql`SELECT 1`.execute();
    await relay.held();
    relay.reset();
    await expect(query).rejects.toMatchObject({ code: 'ECONNRESET' });
    relay.resume();
    // A new client: postgres.js 3.4.9 strands forever a query sent on the reset connection before
    // its socket's 'close' is handled (it keeps the rejected query as current, porsager/postgres#1130).
    const fresh = open();
    try {
      expect((await fresh`SELECT 2 AS two`)[0]?.two).toBe(2);
    } finally {
      await fresh.end({ timeout: 1 });
    }
  });
});
