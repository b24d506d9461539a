import type { Hono } from 'hono';
import { z } from 'zod';
import { BUDGET_PERIODS, windowFor } from '../budget';
import type { HonoEnv } from '../deps';
import { GatewayError } from '../errors';
import { formatUsd, parseUsd } from '../pricing';
import { alertView } from '../alerts';
import { listAlerts } from '../store/alerts';
import { clearBudget, getBudget, getBudgetWindow, setBudget, type BudgetRecord } from '../store/budgets';
import type { Executor } from '../store/db';
import { getKey } from '../store/keys';
import { readJson } from './body';
import { parseWith } from './validate';

const isTimeZone = (zone: string) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

const budgetSchema = z
  .strictObject({
    limit: z.string().regex(/^\d{1,12}(\.\d{1,12})?$/, 'must be a decimal USD string such as "10" or "12.50"').nullish(),
    limitTokens: z.number().int().positive().nullish(),
    period: z.enum(BUDGET_PERIODS).default('month'),
    timezone: z.string().refine(isTimeZone, 'must be an IANA time zone such as "Europe/Berlin"').default('UTC'),
    softThresholdPct: z.number().int().min(1).max(100).nullish(),
  })
  .refine((budget) => budget.limit != null || budget.limitTokens != null, { message: "set 'limit' (USD) and/or 'limitTokens'", path: ['limit'] });

/** A budget and its current window as operators see it: money as decimal strings. */
export async function budgetView(ex: Executor, budget: BudgetRecord, now: Date) {
  const window = windowFor(budget.period, budget.timezone, now);
  const current = await getBudgetWindow(ex, budget.keyId, window.windowStart);
  const spent = current?.spentCost ?? 0n;
  const reserved = current?.reservedCost ?? 0n;
  const spentTokens = Number(current?.spentTokens ?? 0);
  const reservedTokens = Number(current?.reservedTokens ?? 0);
  const limitTokens = budget.limitTokens === null ? null : Number(budget.limitTokens);
  return {
    keyId: budget.keyId,
    limit: budget.limitCost === null ? null : formatUsd(budget.limitCost),
    limitTokens,
    period: budget.period,
    timezone: budget.timezone,
    softThresholdPct: budget.softThresholdPct,
    spent: formatUsd(spent),
    reserved: formatUsd(reserved),
    remaining: budget.limitCost === null ? null : formatUsd(budget.limitCost - spent - reserved),
    spentTokens,
    reservedTokens,
    remainingTokens: limitTokens === null ? null : limitTokens - spentTokens - reservedTokens,
    periodStart: window.windowStart.toISOString(),
    periodEnd: window.windowEnd.toISOString(),
  };
}

/** `/admin/keys/:id/budget`: set, read and remove a key's budget; `/admin/alerts`: thresholds crossed (operator only). */
export function registerAdminBudgetRoutes(app: Hono<HonoEnv>): void {
  app.put('/admin/keys/:id/budget', async (c) => {
    const { deps } = c.var;
    const keyId = c.req.param('id');
    if (!(await getKey(deps.store, keyId))) throw new GatewayError(404, `No API key with id '${keyId}'.`, { code: 'key_not_found', param: 'id' });
    const body = parseWith(budgetSchema, await readJson(c));
    const budget = await setBudget(deps.store, keyId, {
      limitCost: body.limit == null ? null : parseUsd(body.limit),
      limitTokens: body.limitTokens ?? null,
      period: body.period,
      timezone: body.timezone,
      softThresholdPct: body.softThresholdPct ?? null,
    });
    deps.forgetKey(keyId);
    return c.json(await budgetView(deps.store, budget, deps.now()));
  });

  app.get('/admin/keys/:id/budget', async (c) => {
    const { deps } = c.var;
    const budget = await getBudget(deps.store, c.req.param('id'));
    if (!budget) throw new GatewayError(404, `API key '${c.req.param('id')}' has no budget.`, { code: 'budget_not_found', param: 'id' });
    return c.json(await budgetView(deps.store, budget, deps.now()));
  });

  app.delete('/admin/keys/:id/budget', async (c) => {
    const { deps } = c.var;
    const keyId = c.req.param('id');
    if (!(await clearBudget(deps.store, keyId))) throw new GatewayError(404, `API key '${keyId}' has no budget.`, { code: 'budget_not_found', param: 'id' });
    deps.forgetKey(keyId);
    return c.json({ keyId, deleted: true });
  });

  app.get('/admin/alerts', async (c) => {
    const alerts = await listAlerts(c.var.deps.store, c.req.query('keyId') || undefined);
    return c.json({ object: 'list', data: alerts.map(alertView) });
  });
}
