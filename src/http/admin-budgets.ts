import type { Hono } from 'hono';
import { z } from 'zod';
import { alertView } from '../alerts';
import { BUDGET_PERIODS } from '../budget';
import type { HonoEnv } from '../deps';
import { GatewayError } from '../errors';
import { formatUsd, parseUsd } from '../pricing';
import { listAlerts } from '../store/alerts';
import { auditedChange, recordAudit } from '../store/audit';
import { budgetStatus, clearBudget, setBudget } from '../store/budgets';
import type { Executor } from '../store/db';
import { getKey } from '../store/keys';
import { isKnownTimeZone } from '../store/windows';
import { auditActor } from './admin-teams';
import { readJson } from './body';
import { parseWith } from './validate';

/** The largest budget limit accepted: it and every window's spend stay far inside a bigint of picodollars. */
export const MAX_BUDGET_USD = 1_000_000;

const USD_LIMIT = /^\d{1,7}(\.\d{1,12})?$/;

const budgetSchema = z
  .strictObject({
    limit: z
      .string()
      .regex(USD_LIMIT, 'must be a decimal USD string such as "10" or "12.50"')
      // zod runs this check after a failed regex too: only a decimal is parsed (else a 500, not the 400 above).
      .refine((text) => !USD_LIMIT.test(text) || parseUsd(text) <= parseUsd(String(MAX_BUDGET_USD)), `must be at most ${MAX_BUDGET_USD}`)
      .nullish(),
    limitTokens: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).nullish(),
    period: z.enum(BUDGET_PERIODS).default('month'),
    timezone: z.string().min(1).max(64).default('UTC'),
    softThresholdPct: z.number().int().min(1).max(100).nullish(),
  })
  .refine((budget) => budget.limit != null || budget.limitTokens != null, {
    message: "set 'limit' (USD) and/or 'limitTokens'",
    path: ['limit'],
  });

/** A key's budget and its current window (by admission's own window rule) as operators see it: money as decimal strings; null without a budget. */
export async function budgetView(ex: Executor, keyId: string, now: Date) {
  const status = await budgetStatus(ex, keyId, now);
  if (!status) return null;
  const { budget } = status;
  const limitTokens = budget.limitTokens === null ? null : Number(budget.limitTokens);
  return {
    keyId: budget.keyId,
    limit: budget.limitCost === null ? null : formatUsd(budget.limitCost),
    limitTokens,
    period: budget.period,
    timezone: budget.timezone,
    softThresholdPct: budget.softThresholdPct,
    spent: formatUsd(status.spentCost),
    reserved: formatUsd(status.reservedCost),
    remaining: budget.limitCost === null ? null : formatUsd(budget.limitCost - status.spentCost - status.reservedCost),
    spentTokens: status.spentTokens,
    reservedTokens: status.reservedTokens,
    remainingTokens: limitTokens === null ? null : limitTokens - status.spentTokens - status.reservedTokens,
    periodStart: status.windowStart.toISOString(),
    periodEnd: status.windowEnd.toISOString(),
  };
}

/** `/admin/keys/:id/budget`: set, read and remove a key's budget; `/admin/alerts`: thresholds crossed (operator only). */
export function registerAdminBudgetRoutes(app: Hono<HonoEnv>): void {
  app.put('/admin/keys/:id/budget', async (c) => {
    const { deps } = c.var;
    const keyId = c.req.param('id');
    if (!(await getKey(deps.store, keyId)))
      throw new GatewayError(404, `No API key with id '${keyId}'.`, { code: 'key_not_found', param: 'id' });
    const body = parseWith(budgetSchema, await readJson(c));
    // The zone list that counts is the database's: the window rule is computed there.
    if (!(await isKnownTimeZone(deps.store, body.timezone))) {
      throw new GatewayError(
        400,
        `Invalid 'timezone': '${body.timezone}' is not an IANA time zone the database knows, such as "Europe/Berlin".`,
        { param: 'timezone', code: 'invalid_value' },
      );
    }
    await auditedChange(deps.store, async (tx) => {
      await setBudget(tx, keyId, {
        limitCost: body.limit == null ? null : parseUsd(body.limit),
        limitTokens: body.limitTokens ?? null,
        period: body.period,
        timezone: body.timezone,
        softThresholdPct: body.softThresholdPct ?? null,
      });
      await recordAudit(tx, { actor: auditActor(c), action: 'budget.set', target: keyId, detail: body, requestId: c.var.requestId });
    });
    deps.forgetKey(keyId);
    return c.json(await budgetView(deps.store, keyId, deps.now()));
  });

  app.get('/admin/keys/:id/budget', async (c) => {
    const { deps } = c.var;
    const view = await budgetView(deps.store, c.req.param('id'), deps.now());
    if (!view) throw new GatewayError(404, `API key '${c.req.param('id')}' has no budget.`, { code: 'budget_not_found', param: 'id' });
    return c.json(view);
  });

  app.delete('/admin/keys/:id/budget', async (c) => {
    const { deps } = c.var;
    const keyId = c.req.param('id');
    await auditedChange(deps.store, async (tx) => {
      if (!(await clearBudget(tx, keyId)))
        throw new GatewayError(404, `API key '${keyId}' has no budget.`, { code: 'budget_not_found', param: 'id' });
      await recordAudit(tx, { actor: auditActor(c), action: 'budget.delete', target: keyId, requestId: c.var.requestId });
    });
    deps.forgetKey(keyId);
    return c.json({ keyId, deleted: true });
  });

  app.get('/admin/alerts', async (c) => {
    const alerts = await listAlerts(c.var.deps.store, c.req.query('keyId') || undefined);
    return c.json({ object: 'list', data: alerts.map(alertView) });
  });
}
