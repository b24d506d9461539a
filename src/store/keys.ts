import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import type { Executor } from './db';
import { apiKeys, type KeyOptions } from './schema';

export type KeyRecord = typeof apiKeys.$inferSelect;

export interface NewKey {
  /** `key_…`, chosen by auth/. */
  id: string;
  name: string;
  prefix: string;
  /** SHA-256 hex of the full key. */
  hash: string;
  scopes: string[];
  allowedModels?: string[] | null;
  options?: KeyOptions;
  expiresAt?: Date | null;
  createdAt?: Date;
  /** The team billed for its usage. */
  teamId?: string | null;
  /** For a `reports` key: the teams it may read (null: all). */
  reportTeams?: string[] | null;
}

export async function createKey(ex: Executor, key: NewKey): Promise<KeyRecord> {
  const [row] = await ex.db
    .insert(apiKeys)
    .values({
      id: key.id,
      name: key.name,
      prefix: key.prefix,
      hash: key.hash,
      scopes: key.scopes,
      allowedModels: key.allowedModels ?? null,
      options: key.options ?? {},
      expiresAt: key.expiresAt ?? null,
      teamId: key.teamId ?? null,
      reportTeams: key.reportTeams ?? null,
      ...(key.createdAt ? { createdAt: key.createdAt } : {}),
    })
    .returning();
  return row!;
}

/** The key with this hash, revoked or expired ones included: the caller decides (see isKeyLive). */
export async function findKeyByHash(ex: Executor, hash: string): Promise<KeyRecord | null> {
  const [row] = await ex.db.select().from(apiKeys).where(eq(apiKeys.hash, hash)).limit(1);
  return row ?? null;
}

export async function getKey(ex: Executor, id: string): Promise<KeyRecord | null> {
  const [row] = await ex.db.select().from(apiKeys).where(eq(apiKeys.id, id)).limit(1);
  return row ?? null;
}

export async function listKeys(ex: Executor): Promise<KeyRecord[]> {
  return ex.db.select().from(apiKeys).orderBy(asc(apiKeys.createdAt), asc(apiKeys.id));
}

/** Not revoked and not expired at `now`. */
export function isKeyLive(key: Pick<KeyRecord, 'revokedAt' | 'expiresAt'>, now: Date): boolean {
  return key.revokedAt === null && (key.expiresAt === null || key.expiresAt > now);
}

/** Revokes once; revoking again keeps the first time. Null when there is no such key. */
export async function revokeKey(ex: Executor, id: string, at: Date = new Date()): Promise<KeyRecord | null> {
  const [row] = await ex.db
    .update(apiKeys)
    .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, ${at.toISOString()}::timestamptz)` })
    .where(eq(apiKeys.id, id))
    .returning();
  return row ?? null;
}

/** Replaces the secret of a live key (same id, budget and history). Null when absent or revoked. */
export async function rotateKey(ex: Executor, id: string, secret: { hash: string; prefix: string }): Promise<KeyRecord | null> {
  const [row] = await ex.db
    .update(apiKeys)
    .set({ hash: secret.hash, prefix: secret.prefix })
    .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
    .returning();
  return row ?? null;
}

/** Merges `patch` into the key's options; a field set to null is removed. */
export async function updateKeyOptions(
  ex: Executor,
  id: string,
  patch: { [K in keyof KeyOptions]?: KeyOptions[K] | null },
): Promise<KeyRecord | null> {
  const removed = Object.keys(patch).filter((name) => patch[name as keyof KeyOptions] === null);
  const kept = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== null && value !== undefined));
  const [row] = await ex.db
    .update(apiKeys)
    .set({ options: sql`(${apiKeys.options} || ${JSON.stringify(kept)}::jsonb) - ${`{${removed.join(',')}}`}::text[]` })
    .where(eq(apiKeys.id, id))
    .returning();
  return row ?? null;
}

/** Changes name, scopes, allowed models, expiry or the teams a reports key may read. */
export async function updateKey(
  ex: Executor,
  id: string,
  changes: Partial<Pick<KeyRecord, 'name' | 'scopes' | 'allowedModels' | 'expiresAt' | 'reportTeams'>>,
): Promise<KeyRecord | null> {
  if (Object.keys(changes).length === 0) return getKey(ex, id);
  const [row] = await ex.db.update(apiKeys).set(changes).where(eq(apiKeys.id, id)).returning();
  return row ?? null;
}

/**
 * Moves a key to a team (null: to no team), from this instant: admission reads the key's team in
 * the statement that writes each row, so the next request is billed to the new team and rows
 * already written keep theirs. Null when there is no such key.
 */
export async function moveKeyToTeam(
  ex: Executor,
  id: string,
  teamId: string | null,
): Promise<{ key: KeyRecord; previousTeamId: string | null } | null> {
  const [row] = await ex.rows<{ previous: string | null }>(sql`
    SELECT team_id AS previous FROM api_keys WHERE id = ${id} FOR UPDATE`);
  if (!row) return null;
  const [key] = await ex.db.update(apiKeys).set({ teamId }).where(eq(apiKeys.id, id)).returning();
  return { key: key!, previousTeamId: row.previous };
}
