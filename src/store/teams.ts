import { asc, eq } from 'drizzle-orm';
import type { Executor } from './db';
import { apiKeys, teams } from './schema';

export type TeamRecord = typeof teams.$inferSelect;

/** A new team (cost center). Throws a unique violation when the name is taken. */
export async function createTeam(ex: Executor, team: { id: string; name: string; costCenter: string | null }): Promise<TeamRecord> {
  const [row] = await ex.db.insert(teams).values(team).returning();
  return row!;
}

export async function getTeam(ex: Executor, id: string): Promise<TeamRecord | null> {
  const [row] = await ex.db.select().from(teams).where(eq(teams.id, id)).limit(1);
  return row ?? null;
}

export async function listTeams(ex: Executor): Promise<TeamRecord[]> {
  return ex.db.select().from(teams).orderBy(asc(teams.name));
}

/** Renames a team or changes its cost-center code; history keeps the team id, so reports follow. */
export async function updateTeam(
  ex: Executor,
  id: string,
  changes: Partial<Pick<TeamRecord, 'name' | 'costCenter'>>,
): Promise<TeamRecord | null> {
  if (Object.keys(changes).length === 0) return getTeam(ex, id);
  const [row] = await ex.db.update(teams).set(changes).where(eq(teams.id, id)).returning();
  return row ?? null;
}

/** Which of `ids` are not teams. */
export async function missingTeams(ex: Executor, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const found = new Set((await listTeams(ex)).map((team) => team.id));
  return ids.filter((id) => !found.has(id));
}

/** Teams and their current keys as a reader may see them (`scopeTeams` null: all, keys in no team included). */
export async function teamDirectory(
  ex: Executor,
  scopeTeams: readonly string[] | null,
): Promise<{ teams: TeamRecord[]; keys: { id: string; name: string; teamId: string | null; revoked: boolean }[] }> {
  const visible = (teamId: string | null) => scopeTeams === null || (teamId !== null && scopeTeams.includes(teamId));
  const teamRows = (await listTeams(ex)).filter((team) => visible(team.id));
  const keyRows = await ex.db
    .select({ id: apiKeys.id, name: apiKeys.name, teamId: apiKeys.teamId, revokedAt: apiKeys.revokedAt })
    .from(apiKeys)
    .orderBy(asc(apiKeys.name), asc(apiKeys.id));
  return {
    teams: teamRows,
    keys: keyRows
      .filter((key) => visible(key.teamId))
      .map((key) => ({ id: key.id, name: key.name, teamId: key.teamId, revoked: key.revokedAt !== null })),
  };
}
