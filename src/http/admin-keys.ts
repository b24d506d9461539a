import type { Hono } from 'hono';
import { z } from 'zod';
import { displayPrefix, generateSecret, sha256Hex } from '../auth';
import type { HonoEnv } from '../deps';
import { GatewayError } from '../errors';
import { hasControlCharacters } from '../proxy/shape';
import { auditedChange, recordAudit } from '../store/audit';
import type { Executor } from '../store/db';
import {
  createKey,
  getKey,
  type KeyRecord,
  listKeys,
  moveKeyToTeam,
  revokeKey,
  rotateKey,
  updateKey,
  updateKeyOptions,
} from '../store/keys';
import { missingTeams } from '../store/teams';
import { auditActor, teamNotFound } from './admin-teams';
import { readJson } from './body';
import { parseWith } from './validate';

export const SCOPES = ['proxy', 'reports'] as const;

const keyOptionsSchema = z.strictObject({
  contextPolicy: z.enum(['route', 'reject']).nullish(),
  shrinkMaxTokens: z.boolean().nullish(),
  defaultMaxTokens: z.number().int().positive().nullish(),
  minMaxTokens: z.number().int().positive().nullish(),
  failOpen: z.boolean().nullish(),
  rpm: z.number().int().positive().max(1_000_000_000).nullish(),
  tpm: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).nullish(),
});

/** A name operators read: trimmed, 1–200 characters, no control characters (a NUL cannot even be stored). */
const keyName = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .refine((name) => !hasControlCharacters(name), 'must not contain control characters');

const teamId = z.string().min(1).max(128);
/** The teams a `reports` key may read (null: every team). */
const reportTeams = z.array(teamId).min(1).max(1000);

const createKeySchema = z.strictObject({
  name: keyName,
  scopes: z.array(z.enum(SCOPES)).min(1).default(['proxy']),
  allowedModels: z.array(z.string().min(1).max(256)).min(1).max(1000).nullish(),
  expiresAt: z.iso.datetime({ offset: true }).nullish(),
  options: keyOptionsSchema.default({}),
  teamId: teamId.nullish(),
  reportTeams: reportTeams.nullish(),
});

const patchKeySchema = z.strictObject({
  name: keyName.optional(),
  scopes: z.array(z.enum(SCOPES)).min(1).optional(),
  allowedModels: z.array(z.string().min(1).max(256)).min(1).max(1000).nullable().optional(),
  expiresAt: z.iso.datetime({ offset: true }).nullable().optional(),
  options: keyOptionsSchema.optional(),
  /** Moves the key to this team (null: to no team) from its next request on. */
  teamId: teamId.nullable().optional(),
  reportTeams: reportTeams.nullable().optional(),
});

/** A key as operators see it: never the secret or its hash. */
export function keyView(key: KeyRecord) {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    scopes: key.scopes,
    allowedModels: key.allowedModels,
    options: key.options,
    createdAt: key.createdAt.toISOString(),
    expiresAt: key.expiresAt?.toISOString() ?? null,
    revokedAt: key.revokedAt?.toISOString() ?? null,
    teamId: key.teamId,
    reportTeams: key.reportTeams,
  };
}

/** 404 for a team id that does not exist (the key's team, or one it may report on). */
async function checkTeams(ex: Executor, body: { teamId?: string | null; reportTeams?: string[] | null }): Promise<void> {
  const [missing] = await missingTeams(ex, body.teamId ? [body.teamId] : []);
  if (missing) throw teamNotFound(missing, 'teamId');
  const [unknownReportTeam] = await missingTeams(ex, body.reportTeams ?? []);
  if (unknownReportTeam) throw teamNotFound(unknownReportTeam, 'reportTeams');
}

const notFound = (id: string) => new GatewayError(404, `No API key with id '${id}'.`, { code: 'key_not_found', param: 'id' });

function newKeyId(): string {
  return `key_${crypto.randomUUID().replaceAll('-', '').slice(0, 20)}`;
}

/** `/admin/keys`: create, list, show, change, revoke and rotate API keys (operator only). */
export function registerAdminKeyRoutes(app: Hono<HonoEnv>): void {
  app.post('/admin/keys', async (c) => {
    const { deps } = c.var;
    const body = parseWith(createKeySchema, await readJson(c));
    checkModels(Object.keys(deps.config.models), body.allowedModels);
    const secret = generateSecret();
    const key = await auditedChange(deps.store, async (tx) => {
      await checkTeams(tx, body);
      const created = await createKey(tx, {
        id: newKeyId(),
        name: body.name,
        prefix: displayPrefix(secret),
        hash: sha256Hex(secret),
        scopes: body.scopes,
        allowedModels: body.allowedModels ?? null,
        options: withoutNulls(body.options),
        expiresAt: body.expiresAt ? new Date(body.expiresAt) : null,
        teamId: body.teamId ?? null,
        reportTeams: body.reportTeams ?? null,
      });
      await recordAudit(tx, {
        actor: auditActor(c),
        action: 'key.create',
        target: created.id,
        detail: keyView(created),
        requestId: c.var.requestId,
      });
      return created;
    });
    return c.json({ ...keyView(key), key: secret }, 201);
  });

  app.get('/admin/keys', async (c) => c.json({ object: 'list', data: (await listKeys(c.var.deps.store)).map(keyView) }));

  app.get('/admin/keys/:id', async (c) => {
    const key = await getKey(c.var.deps.store, c.req.param('id'));
    if (!key) throw notFound(c.req.param('id'));
    return c.json(keyView(key));
  });

  app.patch('/admin/keys/:id', async (c) => {
    const { deps } = c.var;
    const id = c.req.param('id');
    const body = parseWith(patchKeySchema, await readJson(c));
    checkModels(Object.keys(deps.config.models), body.allowedModels);
    const { options, expiresAt, teamId: newTeam, ...rest } = body;
    const key = await auditedChange(deps.store, async (tx) => {
      await checkTeams(tx, body);
      let changed = await updateKey(tx, id, {
        ...rest,
        ...(expiresAt !== undefined ? { expiresAt: expiresAt ? new Date(expiresAt) : null } : {}),
      });
      if (!changed) throw notFound(id);
      if (options) changed = await updateKeyOptions(tx, id, options);
      const audit = { actor: auditActor(c), target: id, requestId: c.var.requestId };
      const { teamId: _team, ...otherChanges } = body;
      if (Object.keys(otherChanges).length > 0)
        await recordAudit(tx, { ...audit, action: 'key.update', detail: { changes: otherChanges } });
      if (newTeam !== undefined) {
        const moved = (await moveKeyToTeam(tx, id, newTeam))!;
        if (moved.previousTeamId !== newTeam) {
          await recordAudit(tx, { ...audit, action: 'key.move', detail: { fromTeamId: moved.previousTeamId, toTeamId: newTeam } });
        }
        changed = moved.key;
      }
      return changed!;
    });
    deps.forgetKey(id);
    return c.json(keyView(key));
  });

  app.delete('/admin/keys/:id', async (c) => {
    const { deps } = c.var;
    const key = await auditedChange(deps.store, async (tx) => {
      const revoked = await revokeKey(tx, c.req.param('id'), deps.now());
      if (!revoked) throw notFound(c.req.param('id'));
      await recordAudit(tx, { actor: auditActor(c), action: 'key.revoke', target: revoked.id, requestId: c.var.requestId });
      return revoked;
    });
    deps.forgetKey(key.id);
    return c.json({ id: key.id, revokedAt: key.revokedAt!.toISOString() });
  });

  app.post('/admin/keys/:id/rotate', async (c) => {
    const { deps } = c.var;
    const id = c.req.param('id');
    const secret = generateSecret();
    const key = await auditedChange(deps.store, async (tx) => {
      const rotated = await rotateKey(tx, id, { hash: sha256Hex(secret), prefix: displayPrefix(secret) });
      if (!rotated) {
        if (await getKey(tx, id))
          throw new GatewayError(409, `API key '${id}' is revoked; create a new one instead.`, { code: 'key_revoked' });
        throw notFound(id);
      }
      await recordAudit(tx, {
        actor: auditActor(c),
        action: 'key.rotate',
        target: id,
        detail: { prefix: rotated.prefix },
        requestId: c.var.requestId,
      });
      return rotated;
    });
    deps.forgetKey(id);
    return c.json({ ...keyView(key), key: secret });
  });
}

function checkModels(configured: string[], allowed: readonly string[] | null | undefined): void {
  const unknown = (allowed ?? []).filter((model) => !configured.includes(model));
  if (unknown.length > 0) {
    throw new GatewayError(400, `Unknown model(s) in 'allowedModels': ${unknown.join(', ')}.`, {
      param: 'allowedModels',
      code: 'model_not_found',
    });
  }
}

function withoutNulls<T extends object>(value: T): { [K in keyof T]?: NonNullable<T[K]> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined)) as {
    [K in keyof T]?: NonNullable<T[K]>;
  };
}
