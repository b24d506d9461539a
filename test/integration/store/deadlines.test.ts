import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DeadlineError } from '../../../src/store/errors';
import { openPostgresStore } from '../../../src/store/postgres';
import { allowSlowStatements } from '../../../src/store/reports-reconcile';
import { createPostgresDatabase, postgresAvailable } from '../support/databases';

// A statement that gets no answer within the store's deadline fails and the pool is replaced (a
// stalled link answers nothing). A transaction's deadline runs from its last statement's answer:
// a month's tie-out is many statements, and none of them stalled, so it must not be cut off at
// the deadline of one (at 10M rows it was: a 500, and every admission in flight lost its pool).
describe.runIf(postgresAvailable)('deadlines on a Postgres store', () => {
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
  const logs: string[] = [];
  let store: ReturnType<typeof openPostgresStore>;

  beforeAll(async () => {
    database = await createPostgresDatabase();
    store = openPostgresStore({ databaseUrl: database.url, deadlineMs: 400, log: (line) => logs.push(line) });
  });
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  const sleep = (seconds: number) => sql`SELECT pg_sleep(${seconds}) AS slept`;

  test('a transaction of quick statements may take longer than the deadline in all', async () => {
    logs.length = 0;
    const slept = await store.transaction(async (tx) => {
      for (let i = 0; i < 5; i++) await tx.rows(sleep(0.15));
      // Through the transaction's drizzle handle too.
      await tx.db.execute(sleep(0.15));
      return (await tx.rows<{ n: number }>(sql`SELECT 6 AS n`))[0]!.n;
    });
    expect(slept).toBe(6);
    expect(logs).toEqual([]);
  });

  test('one statement in a transaction that gets no answer in time fails it, and the pool is replaced', async () => {
    logs.length = 0;
    const failed = store.transaction(async (tx) => {
      await tx.rows(sleep(0.05));
      await tx.rows(sleep(2));
    });
    await expect(failed).rejects.toBeInstanceOf(DeadlineError);
    expect(logs).toEqual(['tollgate: database pool replaced (no answer within 400 ms)']);
    // The new pool answers.
    expect(await store.rows<{ one: number }>(sql`SELECT 1 AS one`)).toEqual([{ one: 1 }]);
  });

  test('a transaction given a longer statement timeout (a tie-out) may run a slow statement; the server still ends one past it', async () => {
    logs.length = 0;
    const slow = await store.transaction(async (tx) => (await tx.rows<{ slept: string }>(sleep(0.8))).length, {
      statementTimeoutMs: 1_500,
    });
    expect(slow).toBe(1);
    const tooSlow = store.transaction(
      async (tx) => {
        await allowSlowStatements(tx, 1_000);
        return tx.rows(sleep(3));
      },
      { statementTimeoutMs: 1_000 },
    );
    await expect(tooSlow).rejects.toMatchObject({ code: '57014' });
    // Postgres answered (with its cancel): nothing stalled, the pool stays.
    expect(logs).toEqual([]);
    // The longer limit was the transaction's own: the next statement has the store's again.
    await expect(store.rows(sleep(0.8))).rejects.toBeInstanceOf(DeadlineError);
  });

  test('a statement outside a transaction has the same deadline', async () => {
    logs.length = 0;
    await expect(store.rows(sleep(2))).rejects.toBeInstanceOf(DeadlineError);
    expect(logs).toEqual(['tollgate: database pool replaced (no answer within 400 ms)']);
    expect(await store.rows<{ one: number }>(sql`SELECT 1 AS one`)).toEqual([{ one: 1 }]);
  });
});
