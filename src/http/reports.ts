import type { Hono } from 'hono';
import type { HonoEnv } from '../deps';
import { badRequest } from '../errors';
import {
  auditReport,
  budgetsReport,
  parseRangeSpec,
  parseRequestsSpec,
  parseUsageSpec,
  reconcile,
  repricePreview,
  repriceSchema,
  requestColumns,
  requestDetail,
  requestsAllPages,
  requestsPage,
  usageReport,
  usageReportJson,
} from '../reports';
import { teamDirectory } from '../store/teams';
import { readJson } from './body';
import { csvResponse, reportFormat, reportScope, requireAllTeams } from './report-output';
import { parseWith } from './validate';

/**
 * `/reports/*` for finance (the operator token, or a key with the `reports` scope): usage, the
 * requests drill-down, budgets, the tie-out, re-pricing previews, the audit log. Every report is
 * JSON or CSV; a team-limited key sees only its teams' usage, as if nothing else existed.
 */
export function registerReportRoutes(app: Hono<HonoEnv>): void {
  app.get('/reports/usage', async (c) => {
    const { deps } = c.var;
    const format = reportFormat(c);
    const scope = await reportScope(c);
    const report = await usageReport(deps.store, parseUsageSpec(c.req.queries()), scope, deps.now(), { compact: deps.store });
    if (format === 'json') return c.json(usageReportJson(report));
    const { rows: _rows, columns: _columns, ...meta } = usageReportJson(report);
    return csvResponse(c, { name: 'usage', meta, columns: report.columns, pages: [report.rows] }, scope);
  });

  app.get('/reports/requests', async (c) => {
    const { deps } = c.var;
    const format = reportFormat(c);
    const scope = await reportScope(c);
    const spec = parseRequestsSpec(c.req.queries());
    if (format === 'json') return c.json(await requestsPage(deps.store, spec, scope));
    // CSV: the whole range from the cursor on, page after page, never all in memory.
    const all = await requestsAllPages(deps.store, spec, scope);
    const meta = { query: all.query, asOf: all.asOf, generatedAt: deps.now().toISOString(), currency: 'USD' };
    return csvResponse(c, { name: 'requests', meta, columns: requestColumns, pages: all.pages }, scope);
  });

  // One row in full (tokens estimated and billed, reservation, price version, timings).
  app.get('/reports/requests/:requestId', async (c) => {
    const scope = await reportScope(c);
    const key = c.req.query('key') || undefined;
    if (key !== undefined && !/^[A-Za-z0-9._:-]{1,128}$/.test(key))
      throw badRequest(`Invalid 'key': '${key}' is not an id.`, 'key', 'invalid_value');
    return c.json(await requestDetail(c.var.deps.store, c.req.param('requestId'), key, scope));
  });

  app.get('/reports/budgets', async (c) => {
    const { deps } = c.var;
    const format = reportFormat(c);
    const scope = await reportScope(c);
    const report = await budgetsReport(deps.store, c.req.queries(), scope, deps.now());
    if (format === 'json') return c.json(report.json);
    const { rows: _rows, columns: _columns, ...meta } = report.json;
    return csvResponse(c, { name: 'budgets', meta, columns: report.columns, pages: [report.rows] }, scope);
  });

  app.get('/reports/reconcile', async (c) => {
    const scope = await reportScope(c);
    requireAllTeams(scope, 'The tie-out');
    const spec = parseRangeSpec(c.req.queries());
    return c.json(await reconcile(c.var.deps.store, spec, c.var.deps.now()));
  });

  app.post('/reports/reprice', async (c) => {
    const { deps } = c.var;
    const format = reportFormat(c);
    const scope = await reportScope(c);
    const body = parseWith(repriceSchema, await readJson(c));
    const preview = await repricePreview(deps.store, body, scope, deps.now(), { compact: deps.store });
    if (format === 'json') return c.json(preview.json);
    const { rows: _rows, columns: _columns, ...meta } = preview.json;
    return csvResponse(c, { name: 'reprice', meta, columns: preview.columns, pages: [preview.rows] }, scope);
  });

  app.get('/reports/audit', async (c) => {
    const { deps } = c.var;
    const format = reportFormat(c);
    const scope = await reportScope(c);
    requireAllTeams(scope, 'The audit log');
    const report = await auditReport(deps.store, c.req.queries());
    if (format === 'json') return c.json(report.json);
    const { data: _data, columns: _columns, ...meta } = report.json;
    return csvResponse(c, { name: 'audit', meta, columns: report.columns, pages: [report.rows] }, scope);
  });

  // The teams and keys a reader may filter by: what a dashboard's pickers show.
  app.get('/reports/teams', async (c) => {
    const scope = await reportScope(c);
    const directory = await teamDirectory(c.var.deps.store, scope.teams);
    return c.json({
      object: 'list',
      data: directory.teams.map((team) => ({
        id: team.id,
        name: team.name,
        costCenter: team.costCenter,
        keys: directory.keys.filter((key) => key.teamId === team.id).map(({ teamId: _t, ...key }) => key),
      })),
      keysInNoTeam: scope.teams === null ? directory.keys.filter((key) => key.teamId === null).map(({ teamId: _t, ...key }) => key) : [],
    });
  });
}
