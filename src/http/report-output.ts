import type { Context } from 'hono';
import type { HonoEnv } from '../deps';
import { badRequest, GatewayError } from '../errors';
import { type Column, csvStream, type ReportScope } from '../reports';
import { recordAudit } from '../store/audit';
import { getKey } from '../store/keys';

/**
 * Who reads: the operator sees every team; a `reports` key limited to teams (its `reportTeams`)
 * sees only their usage, read from the database on each request like its scopes.
 */
export async function reportScope(c: Context<HonoEnv>): Promise<ReportScope> {
  const caller = c.var.caller;
  if (caller.kind === 'operator') return { teams: null, actor: 'operator' };
  const key = await getKey(c.var.deps.store, caller.keyId);
  return { teams: key?.reportTeams ?? null, actor: caller.keyId };
}

/** Routes that cover every team (the tie-out, the audit log) are not for a team-limited key. */
export function requireAllTeams(scope: ReportScope, what: string): void {
  if (scope.teams !== null) {
    throw new GatewayError(403, `${what} covers every team; this key may read only some.`, { code: 'insufficient_scope' });
  }
}

export type ReportFormat = 'json' | 'csv' | 'html';

/** `format=json|csv[|html]`, else the Accept header (`text/csv`, `text/html`), else JSON. */
export function reportFormat(c: Context<HonoEnv>, allowed: readonly ReportFormat[] = ['json', 'csv']): ReportFormat {
  const asked = c.req.query('format');
  if (asked !== undefined) {
    if (!(allowed as readonly string[]).includes(asked))
      throw badRequest(`Invalid 'format': one of ${allowed.join(', ')}.`, 'format', 'invalid_value');
    return asked as ReportFormat;
  }
  const accept = c.req.header('accept') ?? '';
  if (allowed.includes('csv') && /\btext\/csv\b/i.test(accept)) return 'csv';
  if (allowed.includes('html') && /\btext\/html\b/i.test(accept)) return 'html';
  return 'json';
}

/** JSON text with every non-ASCII character escaped: safe as an HTTP header value. */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[^\x20-\x7e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A CSV download, streamed: RFC 4180 with a header row; what was asked and when, and the totals,
 * ride in the `x-tollgate-report` header (JSON), so the body is only the table. Every export is
 * in the audit log.
 */
export async function csvResponse<R>(
  c: Context<HonoEnv>,
  report: {
    name: string;
    meta: Record<string, unknown>;
    columns: readonly Column<R>[];
    pages: AsyncIterable<readonly R[]> | Iterable<readonly R[]>;
  },
  scope: ReportScope,
): Promise<Response> {
  const { deps } = c.var;
  await recordAudit(deps.store, {
    actor: scope.actor,
    action: 'report.export',
    target: report.name,
    detail: { query: report.meta.query ?? null, format: 'csv' },
    requestId: c.var.requestId,
  });
  const stamp = deps
    .now()
    .toISOString()
    .replaceAll(':', '')
    .replace(/\.\d+Z$/, 'Z');
  return new Response(csvStream(report.columns, report.pages), {
    headers: {
      'content-type': 'text/csv; charset=utf-8; header=present',
      'content-disposition': `attachment; filename="tollgate-${report.name}-${stamp}.csv"`,
      'cache-control': 'no-store',
      'x-tollgate-report': asciiJson({ report: report.name, ...report.meta }),
    },
  });
}
