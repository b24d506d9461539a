import { sql } from 'drizzle-orm';
import type { Executor, Store } from './db';

/** One drizzle-kit migration: its tag (file name), a hash of its SQL, and its statements. */
export interface Migration {
  tag: string;
  hash: string;
  statements: readonly string[];
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** drizzle-kit separates statements with this marker. */
export const STATEMENT_BREAKPOINT = '--> statement-breakpoint';

export function splitStatements(text: string): string[] {
  return text
    .split(STATEMENT_BREAKPOINT)
    .map((statement) => statement.trim())
    .filter((statement) => statement.length > 0);
}

/**
 * Applies the migrations not yet recorded in `tollgate_migrations`, in order, in one transaction
 * holding an advisory lock: instances starting together wait for each other, then find the work
 * done. A recorded migration whose SQL changed since is an error, never silently re-run.
 */
export async function migrate(store: Store, migrations: readonly Migration[]): Promise<{ applied: string[] }> {
  return store.transaction(async (tx) => {
    await tx.rows(sql`SELECT pg_advisory_xact_lock(hashtext('tollgate:migrations'))::text AS locked`);
    await tx.rows(sql`
      CREATE TABLE IF NOT EXISTS tollgate_migrations (
        tag text PRIMARY KEY,
        hash text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const recorded = new Map(
      (await tx.rows<{ tag: string; hash: string }>(sql`SELECT tag, hash FROM tollgate_migrations`)).map((row) => [row.tag, row.hash]),
    );
    const applied: string[] = [];
    for (const migration of migrations) {
      const hash = recorded.get(migration.tag);
      if (hash !== undefined) {
        if (hash !== migration.hash) {
          throw new MigrationError(
            `migration ${migration.tag} was applied with different SQL (hash ${hash}, now ${migration.hash}); add a new migration instead of editing an applied one`,
          );
        }
        continue;
      }
      await applyMigration(tx, migration);
      applied.push(migration.tag);
    }
    return { applied };
  });
}

async function applyMigration(tx: Executor, migration: Migration): Promise<void> {
  for (const statement of migration.statements) await tx.rows(sql.raw(statement));
  await tx.rows(sql`INSERT INTO tollgate_migrations (tag, hash) VALUES (${migration.tag}, ${migration.hash})`);
}
