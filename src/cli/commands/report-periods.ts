import { path } from '../client';
import type { Command } from '../command';
import { fields, table } from '../format';
import { formatOf, formatOption, reportTable } from './report-options';
import type { ClosedJson, PeriodJson, StatementJson, StatementSummary } from './report-views';

// `tollgate report close|periods|statements|statement`: closed months and their statements.

const reportClose: Command = {
  path: ['report', 'close'],
  args: ['PERIOD'],
  summary: 'Close a month (yyyy-mm): issue one immutable statement per team; late usage goes on the next period',
  options: {
    timezone: { type: 'string', value: 'ZONE', description: 'Zone of the month (default: that of the last closed period, else UTC)' },
  },
  examples: ['tollgate report close 2026-10'],
  async run({ args, flags, client, out }) {
    const timezone = flags.timezone('timezone');
    const result = await client.request<ClosedJson>('POST', path`/reports/periods/${args[0]!}/close`, timezone ? { timezone } : {});
    if (out.json) return out.printJson(result);
    out.line(
      `Closed ${result.period} (${result.periodStart} → ${result.periodEnd}, ${result.timezone}); ${result.statements.length} statements:`,
    );
    out.lines(statementTable(result.statements));
  },
};

function statementTable(statements: StatementSummary[]): string[] {
  return table(
    ['STATEMENT', 'PERIOD', 'TEAM', 'COST CENTER', 'REQUESTS', 'COST'],
    statements.map((s) => [s.id, s.period, s.team?.name ?? '(no team)', s.team?.costCenter, s.totals.requests, s.totals.cost]),
  );
}

const reportStatements: Command = {
  path: ['report', 'statements'],
  summary: 'List issued statements',
  options: {
    period: { type: 'string', value: 'PERIOD', description: 'Only this month (yyyy-mm)' },
    team: { type: 'string', value: 'TEAM_ID', description: "Only this team ('none': keys in no team)" },
  },
  async run({ flags, client, out }) {
    const query = new URLSearchParams();
    if (flags.has('period')) query.set('period', flags.string('period')!);
    if (flags.has('team')) query.set('team', flags.string('team')!);
    const result = await client.request<{ data: StatementSummary[] }>('GET', `/reports/statements?${query}`);
    if (out.json) return out.printJson(result);
    if (result.data.length === 0) return out.line('No statements.');
    out.lines(statementTable(result.data));
  },
};

const reportStatement: Command = {
  path: ['report', 'statement'],
  args: ['ID'],
  summary: 'One statement: its lines, adjustments, totals and content hash (also as CSV, JSON or a printable HTML page)',
  options: formatOption(['table', 'csv', 'json', 'html']),
  examples: ['tollgate report statement stmt_202610_… --format html > statement.html'],
  async run(ctx) {
    const id = ctx.args[0]!;
    const format = formatOf(ctx, ['table', 'csv', 'json', 'html']);
    if (format === 'csv' || format === 'html') {
      ctx.out.write((await ctx.client.requestText('GET', path`/reports/statements/${id}`, `text/${format}`)).text);
      return;
    }
    const statement = await ctx.client.request<StatementJson>('GET', path`/reports/statements/${id}`);
    if (format === 'json') return ctx.out.printJson(statement);
    ctx.out.line(`Statement ${statement.id}:`);
    ctx.out.lines(
      fields([
        ['team', statement.team ? `${statement.team.name} (${statement.team.id})` : '(no team)'],
        ['cost center', statement.team?.costCenter],
        ['period', `${statement.period} (${statement.periodStart} → ${statement.periodEnd}, ${statement.timezone})`],
        ['generated', statement.generatedAt],
        ['content hash', `sha256:${statement.contentHash} ${statement.verified ? '(verified)' : '(DOES NOT MATCH)'}`],
      ]),
    );
    ctx.out.lines(
      reportTable({ columns: [], rows: statement.lines }, [
        'lineNo',
        'kind',
        'usagePeriod',
        'keyName',
        'model',
        'requests',
        'promptTokens',
        'completionTokens',
        'cost',
      ]),
    );
    ctx.out.line(
      `Usage $${statement.totals.usage.cost} + adjustments $${statement.totals.adjustments.cost} = total $${statement.totals.total.cost}`,
    );
  },
};

const reportPeriods: Command = {
  path: ['report', 'periods'],
  summary: 'Closed periods and their statements',
  async run({ client, out }) {
    const result = await client.request<{ data: PeriodJson[] }>('GET', '/reports/periods');
    if (out.json) return out.printJson(result);
    if (result.data.length === 0) return out.line('No period is closed.');
    out.lines(
      table(
        ['PERIOD', 'TIMEZONE', 'CLOSED AT', 'BY', 'STATEMENTS'],
        result.data.map((p) => [p.period, p.timezone, p.closedAt, p.closedBy, p.statements.length]),
      ),
    );
  },
};

export const reportPeriodCommands: readonly Command[] = [reportClose, reportStatements, reportStatement, reportPeriods];
