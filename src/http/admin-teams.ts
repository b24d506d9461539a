import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { HonoEnv } from '../deps';
import { GatewayError } from '../errors';
import { hasControlCharacters } from '../proxy/shape';
import { auditedChange, recordAudit } from '../store/audit';
import { isUniqueViolation } from '../store/errors';
import { listKeys } from '../store/keys';
import { createTeam, getTeam, listTeams, type TeamRecord, updateTeam } from '../store/teams';
import { readJson } from './body';
import { parseWith } from './validate';

const teamName = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .refine((name) => !hasControlCharacters(name), 'must not contain control characters');

const costCenter = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .refine((code) => !hasControlCharacters(code), 'must not contain control characters');

const createTeamSchema = z.strictObject({ name: teamName, costCenter: costCenter.nullish() });
const patchTeamSchema = z.strictObject({ name: teamName.optional(), costCenter: costCenter.nullable().optional() });

export function teamView(team: TeamRecord, keyIds?: string[]) {
  return {
    id: team.id,
    name: team.name,
    costCenter: team.costCenter,
    createdAt: team.createdAt.toISOString(),
    ...(keyIds ? { keyIds } : {}),
  };
}

/** Who did it, for the audit log: `operator`, or the acting key. */
export function auditActor(c: Context<HonoEnv>): string {
  const caller = c.var.caller;
  return caller.kind === 'operator' ? 'operator' : caller.keyId;
}

export const teamNotFound = (id: string, param = 'id') =>
  new GatewayError(404, `No team with id '${id}'.`, { code: 'team_not_found', param });

const nameTaken = (name: string) =>
  new GatewayError(409, `A team named '${name}' exists already.`, { code: 'team_name_taken', param: 'name' });

function newTeamId(): string {
  return `team_${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}`;
}

/**
 * `/admin/teams`: cost centers that own keys (operator only). Keys move between teams with
 * `PATCH /admin/keys/:id { teamId }`; a move binds from the next request, history stays put.
 */
export function registerAdminTeamRoutes(app: Hono<HonoEnv>): void {
  app.post('/admin/teams', async (c) => {
    const { deps } = c.var;
    const body = parseWith(createTeamSchema, await readJson(c));
    try {
      const team = await auditedChange(deps.store, async (tx) => {
        const created = await createTeam(tx, { id: newTeamId(), name: body.name, costCenter: body.costCenter ?? null });
        await recordAudit(tx, {
          actor: auditActor(c),
          action: 'team.create',
          target: created.id,
          detail: { name: created.name, costCenter: created.costCenter },
          requestId: c.var.requestId,
        });
        return created;
      });
      return c.json(teamView(team, []), 201);
    } catch (error) {
      if (isUniqueViolation(error)) throw nameTaken(body.name);
      throw error;
    }
  });

  app.get('/admin/teams', async (c) => {
    const { store } = c.var.deps;
    const keys = await listKeys(store);
    const teams = await listTeams(store);
    return c.json({
      object: 'list',
      data: teams.map((team) =>
        teamView(
          team,
          keys.filter((k) => k.teamId === team.id).map((k) => k.id),
        ),
      ),
    });
  });

  app.get('/admin/teams/:id', async (c) => {
    const { store } = c.var.deps;
    const team = await getTeam(store, c.req.param('id'));
    if (!team) throw teamNotFound(c.req.param('id'));
    const keys = (await listKeys(store)).filter((key) => key.teamId === team.id).map((key) => key.id);
    return c.json(teamView(team, keys));
  });

  app.patch('/admin/teams/:id', async (c) => {
    const { deps } = c.var;
    const id = c.req.param('id');
    const body = parseWith(patchTeamSchema, await readJson(c));
    try {
      const team = await auditedChange(deps.store, async (tx) => {
        const before = await getTeam(tx, id);
        if (!before) throw teamNotFound(id);
        const after = await updateTeam(tx, id, body);
        await recordAudit(tx, {
          actor: auditActor(c),
          action: 'team.update',
          target: id,
          detail: {
            before: { name: before.name, costCenter: before.costCenter },
            after: { name: after!.name, costCenter: after!.costCenter },
          },
          requestId: c.var.requestId,
        });
        return after!;
      });
      return c.json(teamView(team));
    } catch (error) {
      if (isUniqueViolation(error)) throw nameTaken(body.name ?? '');
      throw error;
    }
  });
}
