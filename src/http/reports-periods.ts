import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { HonoEnv } from '../deps';
import { badRequest, GatewayError } from '../errors';
import { closePeriod, parsePeriod, periodJson, statementColumns, statementHtml, statementJson, statementLines } from '../reports';
import { type Column, measuresJson } from '../reports/columns';
import { getStatement, listPeriods, listStatements, type StatementRecord, unbookedUsage } from '../store/statements';
import { csvResponse, reportFormat, reportScope } from './report-output';
import { parseWith } from './validate';

const closeSchema = z.strictObject({ timezone: z.string().min(1).max(64).optional() });

/** A JSON body that may be absent (an empty body is `{}`). */
async function readOptionalJson(c: Context<HonoEnv>): Promise<unknown> {
  const text = await c.var.deps.io.bodyText(c, c.var.bodyLimit ?? 64 * 1024);
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest('We could not parse the JSON body of your request.', null, 'invalid_json');
  }
}

/** The statements list as CSV: one line per statement with its totals. */
const statementListColumns: Column<StatementRecord>[] = [
  { name: 'statementId', kind: 'text', get: (s) => s.id },
  { name: 'period', kind: 'text', get: (s) => s.period },
  { name: 'teamId', kind: 'text', get: (s) => (s.content.team as { id: string } | null)?.id ?? null },
  { name: 'teamName', kind: 'text', get: (s) => (s.content.team as { name: string } | null)?.name ?? null },
  { name: 'costCenter', kind: 'text', get: (s) => (s.content.team as { costCenter: string | null } | null)?.costCenter ?? null },
  { name: 'generatedAt', kind: 'instant', get: (s) => s.generatedAt.toISOString() },
  { name: 'requests', kind: 'integer', get: (s) => s.totals.requests },
  { name: 'promptTokens', kind: 'integer', get: (s) => s.totals.promptTokens },
  { name: 'completionTokens', kind: 'integer', get: (s) => s.totals.completionTokens },
  { name: 'cost', kind: 'money', get: (s) => s.totals.cost },
  { name: 'contentHash', kind: 'text', get: (s) => s.contentHash },
];

const statementNotFound = (id: string) => new GatewayError(404, `No statement '${id}'.`, { code: 'statement_not_found', param: 'id' });

function statementSummary(statement: StatementRecord) {
  const team = statement.content.team as { id: string; name: string; costCenter: string | null } | null;
  return {
    id: statement.id,
    period: statement.period,
    team,
    generatedAt: statement.generatedAt.toISOString(),
    currency: statement.currency,
    totals: measuresJson(statement.totals),
    contentHash: statement.contentHash,
  };
}

/**
 * Periods and statements: close a month (operator), list closed periods with their statements and
 * any late usage not yet booked, and read a statement as JSON, CSV or a printable page.
 */
export function registerReportPeriodRoutes(app: Hono<HonoEnv>): void {
  app.post('/reports/periods/:period/close', async (c) => {
    const { deps, caller } = c.var;
    if (caller.kind !== 'operator') throw new GatewayError(403, 'Only the operator closes a period.', { code: 'insufficient_scope' });
    const period = parsePeriod(c.req.param('period'));
    const body = parseWith(closeSchema, await readOptionalJson(c));
    const closed = await closePeriod(deps.store, {
      period,
      timezone: body.timezone,
      actor: 'operator',
      requestId: c.var.requestId,
      now: deps.now(),
    });
    return c.json({ ...periodJson(closed.period), statements: closed.statements.map(statementSummary) }, 201);
  });

  app.get('/reports/periods', async (c) => {
    const { deps } = c.var;
    const scope = await reportScope(c);
    const statements = await listStatements(deps.store, { scopeTeams: scope.teams });
    return c.json({
      object: 'list',
      data: (await listPeriods(deps.store)).reverse().map((period) => ({
        ...periodJson(period),
        statements: statements.filter((s) => s.period === period.period).map(statementSummary),
      })),
    });
  });

  app.get('/reports/periods/:period', async (c) => {
    const { deps } = c.var;
    const scope = await reportScope(c);
    const name = parsePeriod(c.req.param('period'));
    const period = (await listPeriods(deps.store)).find((p) => p.period === name);
    if (!period) throw new GatewayError(404, `Period ${name} is not closed.`, { code: 'period_not_found', param: 'period' });
    const statements = await listStatements(deps.store, { period: name, scopeTeams: scope.teams });
    // Usage that settled after the close: booked as adjustments on the next period's statements.
    const late = (await unbookedUsage(deps.store, [name])).filter((line) => scope.teams === null || scope.teams.includes(line.teamId));
    return c.json({
      ...periodJson(period),
      statements: statements.map(statementSummary),
      lateUsageNotYetBooked: late.map((line) => ({
        teamId: line.teamId || null,
        keyId: line.keyId,
        model: line.model,
        ...measuresJson(line),
      })),
    });
  });

  app.get('/reports/statements', async (c) => {
    const { deps } = c.var;
    const format = reportFormat(c);
    const scope = await reportScope(c);
    const periodParam = c.req.query('period');
    const team = c.req.query('team');
    const statements = await listStatements(deps.store, {
      period: periodParam === undefined ? undefined : parsePeriod(periodParam),
      teams: team === undefined ? undefined : [team === 'none' ? '' : team],
      scopeTeams: scope.teams,
    });
    if (format === 'json') return c.json({ object: 'list', data: statements.map(statementSummary) });
    const query = { period: periodParam ?? null, team: team ?? null };
    return csvResponse(c, { name: 'statements', meta: { query }, columns: statementListColumns, pages: [statements] }, scope);
  });

  app.get('/reports/statements/:id', async (c) => {
    const { deps } = c.var;
    const format = reportFormat(c, ['json', 'csv', 'html']);
    const scope = await reportScope(c);
    const id = c.req.param('id');
    const statement = await getStatement(deps.store, id, scope.teams);
    if (!statement) throw statementNotFound(id);
    const json = await statementJson(statement);
    if (format === 'json') return c.json(json);
    if (format === 'html') {
      return c.html(statementHtml(statement, json.verified), 200, {
        'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
      });
    }
    const meta = {
      statementId: statement.id,
      period: statement.period,
      totals: statement.content.totals,
      generatedAt: statement.content.generatedAt,
      contentHash: statement.contentHash,
      verified: json.verified,
    };
    return csvResponse(
      c,
      { name: `statement-${statement.id}`, meta, columns: statementColumns(statement), pages: [statementLines(statement)] },
      scope,
    );
  });
}
