import { badRequest } from '../errors';
import { type AuditRecord, listAudit } from '../store/audit';
import type { Executor } from '../store/db';
import { AUDIT_ACTIONS } from '../store/schema';
import { type Column, jsonRow } from './columns';
import { resolveRange } from './range';
import { optionalParam, type Params, parseRangeSpec } from './spec';

export const auditColumns: Column<AuditRecord>[] = [
  { name: 'id', kind: 'integer', get: (row) => row.id },
  { name: 'at', kind: 'instant', get: (row) => row.at.toISOString() },
  { name: 'actor', kind: 'text', get: (row) => row.actor },
  { name: 'action', kind: 'text', get: (row) => row.action },
  { name: 'target', kind: 'text', get: (row) => row.target },
  { name: 'requestId', kind: 'text', get: (row) => row.requestId },
  { name: 'detail', kind: 'json', get: (row) => row.detail as Record<string, string> },
];

/** `GET /reports/audit`: operator actions and report exports in [from, to), newest first, a page at a time. */
export async function auditReport(ex: Executor, params: Params) {
  const spec = parseRangeSpec(params, ['action', 'limit', 'cursor']);
  const { from, to } = await resolveRange(ex, spec);
  const actions = optionalParam(params, 'action')?.split(',');
  const unknown = actions?.find((action) => !(AUDIT_ACTIONS as readonly string[]).includes(action));
  if (unknown) throw badRequest(`Invalid 'action': '${unknown}' is not one of ${AUDIT_ACTIONS.join(', ')}.`, 'action', 'invalid_value');
  const limitText = optionalParam(params, 'limit') ?? '100';
  const limit = Number(limitText);
  if (!/^\d+$/.test(limitText) || limit < 1 || limit > 1000) throw badRequest(`Invalid 'limit': 1 to 1000.`, 'limit', 'invalid_value');
  const cursor = optionalParam(params, 'cursor');
  if (cursor !== undefined && !/^\d{1,18}$/.test(cursor)) throw badRequest(`Invalid 'cursor'.`, 'cursor', 'invalid_cursor');
  const rows = await listAudit(ex, { from, to, actions, before: cursor === undefined ? undefined : Number(cursor), limit: limit + 1 });
  const page = rows.slice(0, limit);
  return {
    columns: auditColumns,
    rows: page,
    json: {
      object: 'list',
      query: { from: from.toISOString(), to: to.toISOString(), action: actions ?? null },
      columns: auditColumns.map((column) => column.name),
      data: page.map((row) => jsonRow(auditColumns, row)),
      hasMore: rows.length > limit,
      nextCursor: rows.length > limit ? String(page.at(-1)!.id) : null,
    },
  };
}
