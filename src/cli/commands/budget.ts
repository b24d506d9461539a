import { path } from '../client';
import type { Command } from '../command';
import { UsageError } from '../errors';
import type { Flags, OptionSpecs } from '../flags';
import { type BudgetView, budgetLines } from './budget-view';

const PERIODS = ['day', 'week', 'month', 'total'] as const;

/** `PUT /admin/keys/:id/budget` body. */
export interface BudgetBody {
  limit?: string;
  limitTokens?: number;
  period: (typeof PERIODS)[number];
  timezone?: string;
  softThresholdPct?: number;
}

/** The window flags shared by `budget set` and `keys create`. */
export const windowOptions: OptionSpecs = {
  period: { type: 'string', value: 'day|week|month|total', description: 'Budget window (default month)' },
  timezone: { type: 'string', value: 'ZONE', description: 'IANA zone for window boundaries (gateway default UTC)' },
  soft: { type: 'string', value: 'PCT', description: 'Soft alert at this percent of the limit (1-100)' },
};

/**
 * The budget body from flags, or undefined when neither limit flag is given. `limitFlag` and
 * `tokensFlag` differ by command: `--limit/--tokens` here, `--budget/--budget-tokens` on create.
 */
export function budgetBodyFrom(flags: Flags, limitFlag: string, tokensFlag: string): BudgetBody | undefined {
  const limit = flags.money(limitFlag);
  const limitTokens = flags.integer(tokensFlag, { min: 1 });
  const period = flags.choice('period', PERIODS);
  const timezone = flags.timezone('timezone');
  const softThresholdPct = flags.integer('soft', { min: 1, max: 100 });
  if (limit === undefined && limitTokens === undefined) {
    const stray = ['period', 'timezone', 'soft'].find((name) => flags.has(name));
    if (stray) throw new UsageError(`--${stray} needs --${limitFlag} or --${tokensFlag}.`);
    return undefined;
  }
  const body: BudgetBody = { period: period ?? 'month' };
  if (limit !== undefined) body.limit = limit;
  if (limitTokens !== undefined) body.limitTokens = limitTokens;
  if (timezone !== undefined) body.timezone = timezone;
  if (softThresholdPct !== undefined) body.softThresholdPct = softThresholdPct;
  return body;
}

const budgetSet: Command = {
  path: ['budget', 'set'],
  args: ['ID'],
  summary: "Set (or replace) a key's budget: a money limit, a token limit, or both",
  options: {
    limit: { type: 'string', value: 'AMOUNT', description: 'Money limit per window, a decimal like 10 or 2.50' },
    tokens: { type: 'string', value: 'N', description: 'Token limit per window (prompt + completion)' },
    ...windowOptions,
  },
  examples: [
    'tollgate budget set key_123 --limit 10 --period month --soft 80',
    'tollgate budget set key_123 --tokens 1000000 --period day --timezone Europe/Berlin',
  ],
  async run({ args, flags, client, out }) {
    const [id] = args as [string];
    const body = budgetBodyFrom(flags, 'limit', 'tokens');
    if (!body) throw new UsageError('budget set needs --limit or --tokens.');
    const budget = await client.request<BudgetView>('PUT', path`/admin/keys/${id}/budget`, body);
    if (out.json) return out.printJson(budget);
    out.line(`Budget set for key ${id}.`);
    if (budget) out.lines(budgetLines(budget));
  },
};

const budgetShow: Command = {
  path: ['budget', 'show'],
  args: ['ID'],
  summary: "Show a key's budget and what the current window has spent and reserved",
  async run({ args, client, out }) {
    const [id] = args as [string];
    const budget = await client.request<BudgetView>('GET', path`/admin/keys/${id}/budget`);
    if (out.json) return out.printJson(budget);
    out.line(`Budget for key ${id}:`);
    out.lines(budgetLines(budget));
  },
};

const budgetDelete: Command = {
  path: ['budget', 'delete'],
  args: ['ID'],
  summary: "Remove a key's budget (the key then spends without limit)",
  async run({ args, client, out }) {
    const [id] = args as [string];
    const result = await client.request<unknown>('DELETE', path`/admin/keys/${id}/budget`);
    if (out.json) return out.printJson(result ?? { keyId: id, deleted: true });
    out.line(`Budget removed from key ${id}.`);
  },
};

export const budgetCommands: readonly Command[] = [budgetSet, budgetShow, budgetDelete];
