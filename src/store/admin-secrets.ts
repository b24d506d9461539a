import { eq, sql } from 'drizzle-orm';
import type { Executor } from './db';
import { adminSecrets } from './schema';

export const OPERATOR_SECRET = 'operator';

/** The stored hash of an admin secret, or null when none is set. */
export async function getAdminSecretHash(ex: Executor, name: string = OPERATOR_SECRET): Promise<string | null> {
  const [row] = await ex.db.select({ hash: adminSecrets.hash }).from(adminSecrets).where(eq(adminSecrets.name, name)).limit(1);
  return row?.hash ?? null;
}

/** Sets (or replaces) an admin secret's hash. */
export async function setAdminSecretHash(ex: Executor, hash: string, name: string = OPERATOR_SECRET): Promise<void> {
  await ex.db
    .insert(adminSecrets)
    .values({ name, hash })
    .onConflictDoUpdate({ target: adminSecrets.name, set: { hash, createdAt: sql`now()` } });
}

/** Sets the hash only when none is stored yet; true when this call set it (first start). */
export async function initAdminSecretHash(ex: Executor, hash: string, name: string = OPERATOR_SECRET): Promise<boolean> {
  const rows = await ex.db.insert(adminSecrets).values({ name, hash }).onConflictDoNothing().returning({ name: adminSecrets.name });
  return rows.length > 0;
}
