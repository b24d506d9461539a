import type { Command, CommandContext } from '../command';
import { DifferencesFound, UsageError } from '../errors';
import { table } from '../format';
import { filterOptions, formatOf, formatOption, rangeOptions, reportQuery, reportTable } from './report-options';
import { reportPeriodCommands } from './report-periods';
import type { BudgetRow, Measures, ReconcileJson, RepriceJson, RequestRow, Row, UsageJson } from './report-views';

// `tollgate report …`: the reports API from a terminal. Each command asks the same query the API
// takes and prints it as a table, CSV (the gateway's own, byte for byte) or JSON.

export const totalsLine = (totals: Measures) =>
  `Total: ${totals.requests} requests, ${totals.promptTokens} prompt + ${totals.completionTokens} completion tokens, $${totals.cost}`;

/** Prints a report in the chosen format; `table` is the caller's. */
export async function printReport<T>(
  ctx: CommandContext,
  method: 'GET' | 'POST',
  route: string,
  onTable: (json: T) => void,
  body?: unknown,
): Promise<void> {
  const format = formatOf(ctx);
  if (format === 'csv') {
    const { text } = await ctx.client.requestText(method, route, 'text/csv', body);
    ctx.out.write(text);
    return;
  }
  const json = await ctx.client.request<T>(method, route, body);
  if (format === 'json') return ctx.out.printJson(json);
  onTable(json);
}

const reportUsage: Command = {
  path: ['report', 'usage'],
  summary: 'Usage and cost: who spent what, on which model, for which team, when',
  options: {
    ...rangeOptions,
    bucket: { type: 'string', value: 'hour|day|week|month|none', description: 'Time buckets in --tz (default none)' },
    'group-by': { type: 'string', value: 'LIST', description: 'Any of team, key, model, status, tag:NAME' },
    top: { type: 'string', value: 'N', description: 'Keep the N costliest groups, fold the rest into one (other) row' },
    ...filterOptions,
    ...formatOption(),
  },
  examples: [
    'tollgate report usage --from 2026-10-01 --to 2026-11-01 --group-by team',
    'tollgate report usage --from 2026-11-01 --to 2026-11-08 --tz America/New_York --bucket day --group-by team,tag:project --format csv',
  ],
  async run(ctx) {
    const { flags, out } = ctx;
    const query = reportQuery(flags, {
      bucket: flags.choice('bucket', ['hour', 'day', 'week', 'month', 'none']),
      groupBy: flags.list('group-by')?.join(','),
      top: flags.integer('top', { min: 1 })?.toString(),
    });
    await printReport<UsageJson>(ctx, 'GET', `/reports/usage?${query}`, (json) => {
      out.line(`Usage ${json.query.from} → ${json.query.to} (${json.query.tz}), from the ${json.source}:`);
      if (json.rows.length === 0) out.line('No usage.');
      else
        out.lines(
          reportTable(
            json,
            json.columns.filter((c) => c !== 'other' && c !== 'bucketEnd'),
          ),
        );
      out.line(totalsLine(json.totals));
    });
  },
};

const reportRequests: Command = {
  path: ['report', 'requests'],
  summary: 'Ledger rows, a page at a time (CSV: every row of the range, streamed)',
  options: {
    ...rangeOptions,
    ...filterOptions,
    limit: { type: 'string', value: 'N', description: 'Rows per page, 1 to 1000 (default 100; not for CSV)' },
    cursor: { type: 'string', value: 'CURSOR', description: 'The next page, as printed after the previous one' },
    order: { type: 'string', value: 'asc|desc', description: 'Oldest first (default) or newest first' },
    ...formatOption(),
  },
  examples: ['tollgate report requests --from 2026-11-01 --to 2026-11-02 --team team_3f… --format csv > requests.csv'],
  async run(ctx) {
    const { flags, out } = ctx;
    const query = reportQuery(flags, {
      limit: flags.integer('limit', { min: 1, max: 1000 })?.toString(),
      cursor: flags.string('cursor'),
      order: flags.choice('order', ['asc', 'desc']),
    });
    await printReport<{ data: RequestRow[]; nextCursor: string | null }>(ctx, 'GET', `/reports/requests?${query}`, (json) => {
      if (json.data.length === 0) out.line('No requests.');
      else
        out.lines(
          table(
            ['STARTED', 'REQUEST', 'KEY', 'TEAM', 'MODEL', 'STATUS', 'PROMPT', 'COMPLETION', 'COST'],
            json.data.map((row) => [
              row.startedAt,
              row.requestId,
              row.keyName ?? row.keyId,
              row.teamName ?? '(no team)',
              row.model,
              row.status,
              row.promptTokens,
              row.completionTokens,
              row.cost,
            ]),
          ),
        );
      if (json.nextCursor) out.line(`More: add --cursor ${json.nextCursor}`);
    });
  },
};

const reportBudgets: Command = {
  path: ['report', 'budgets'],
  summary: 'Every budgeted key and team: spent, reserved, remaining, and where this period is heading',
  options: { team: filterOptions.team!, key: filterOptions.key!, ...formatOption() },
  async run(ctx) {
    const query = reportQuery(ctx.flags);
    await printReport<{ rows: BudgetRow[]; projection: string }>(ctx, 'GET', `/reports/budgets?${query}`, (json) => {
      if (json.rows.length === 0) return ctx.out.line('No budgets.');
      ctx.out.lines(
        table(
          ['SCOPE', 'TEAM', 'KEY', 'PERIOD', 'LIMIT', 'SPENT', 'RESERVED', 'REMAINING', 'USED %', 'PROJECTED', 'PROJ %', 'EXHAUSTED AT'],
          json.rows.map((row) => [
            row.scope,
            row.teamName ?? '(no team)',
            row.keyName ?? `${row.keys} keys`,
            row.period,
            row.limit ?? 'none',
            row.spent,
            row.reserved,
            row.remaining,
            row.utilisationPct,
            row.projectedSpend,
            row.projectedUtilisationPct,
            row.projectedExhaustedAt,
          ]),
        ),
      );
      ctx.out.line(`Projection: ${json.projection}.`);
    });
  },
};

const reportReconcile: Command = {
  path: ['report', 'reconcile'],
  summary: 'Tie-out: ledger rows = rollup = budget windows = reports = statements; exit 4 on any difference',
  options: { ...rangeOptions, ...formatOption(['table', 'json']) },
  async run(ctx) {
    const result = await ctx.client.request<ReconcileJson>('GET', `/reports/reconcile?${reportQuery(ctx.flags)}`);
    if (formatOf(ctx, ['table', 'json']) === 'json') ctx.out.printJson(result);
    else {
      ctx.out.line(`Tie-out ${result.query.from} → ${result.query.to}: ${result.ok ? 'ties out' : 'DIFFERENCES FOUND'}`);
      for (const check of result.checks) {
        ctx.out.line(`  ${check.ok ? 'ok  ' : 'DIFF'}  ${check.name}: ${check.description} (${check.compared} compared)`);
        for (const difference of check.differences.slice(0, 20)) ctx.out.line(`        ${JSON.stringify(difference)}`);
      }
      ctx.out.line(totalsLine(result.totals.ledger));
    }
    if (!result.ok) throw new DifferencesFound('the tie-out found differences (listed above).');
  },
};

const reportAudit: Command = {
  path: ['report', 'audit'],
  summary: 'The audit log: operator actions (keys, budgets, prices, teams, closes) and report exports',
  options: {
    ...rangeOptions,
    action: { type: 'string', value: 'LIST', description: 'Only these actions, e.g. key.move,period.close' },
    ...formatOption(),
  },
  async run(ctx) {
    const query = reportQuery(ctx.flags, { action: ctx.flags.list('action')?.join(','), limit: '1000' });
    await printReport<{ columns: string[]; data: Row[] }>(ctx, 'GET', `/reports/audit?${query}`, (json) => {
      if (json.data.length === 0) return ctx.out.line('No entries.');
      ctx.out.lines(reportTable({ columns: json.columns, rows: json.data }));
    });
  },
};

const reportReprice: Command = {
  path: ['report', 'reprice'],
  summary: 'What a range would have cost under candidate prices, beside what was billed (changes nothing)',
  options: {
    ...rangeOptions,
    price: {
      type: 'string',
      value: 'MODEL=PROMPT/COMPLETION',
      multiple: true,
      required: true,
      description: 'A candidate price per 1k tokens; repeatable',
    },
    'group-by': { type: 'string', value: 'LIST', description: 'Any of team, key, model, status, tag:NAME (default model)' },
    ...formatOption(),
  },
  examples: ['tollgate report reprice --from 2026-10-01 --to 2026-11-01 --price gpt-4=0.02/0.04'],
  async run(ctx) {
    const prices: Record<string, { prompt: string; completion: string }> = {};
    for (const text of ctx.flags.strings('price')) {
      const match = /^(.+)=(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/.exec(text);
      if (!match) throw new UsageError(`--price must be MODEL=PROMPT/COMPLETION (per 1k tokens), got '${text}'.`);
      prices[match[1]!] = { prompt: match[2]!, completion: match[3]! };
    }
    const range = reportQuery(ctx.flags);
    const body = {
      from: range.get('from'),
      to: range.get('to'),
      ...(range.get('tz') ? { tz: range.get('tz') } : {}),
      ...(ctx.flags.has('group-by') ? { groupBy: ctx.flags.list('group-by') } : {}),
      prices,
    };
    await printReport<RepriceJson>(
      ctx,
      'POST',
      '/reports/reprice',
      (json) => {
        ctx.out.lines(reportTable(json));
        ctx.out.line(
          `Billed $${json.totals.billedCost}; at the candidate prices $${json.totals.candidateCost} (${json.totals.differencePct ?? '-'}%).`,
        );
        if (json.unpricedModels.length > 0) ctx.out.line(`Kept at billed cost (no candidate price): ${json.unpricedModels.join(', ')}.`);
      },
      body,
    );
  },
};

export const reportCommands: readonly Command[] = [
  reportUsage,
  reportRequests,
  reportBudgets,
  reportReconcile,
  ...reportPeriodCommands,
  reportAudit,
  reportReprice,
];
