import { badRequest } from '../errors';
import type { Executor } from '../store/db';
import { type LedgerRow, ledgerNow, pageRequests, type RequestsCursor } from '../store/reports-requests';
import { type Column, jsonRow } from './columns';
import { filtersEcho, type ReportScope, resolveRange } from './range';
import type { RequestsSpec } from './spec';

// The requests drill-down: ledger rows a page at a time (JSON), or every row of the range streamed
// page by page (CSV). The cursor carries the sort key of the last row and the `asOf` instant of the
// first page, so every page reads the same set of rows whatever is written meanwhile.

interface CursorState extends RequestsCursor {
  asOf: string;
}

export function encodeCursor(state: CursorState): string {
  const json = JSON.stringify([state.startedAt, state.keyId, state.requestId, state.asOf]);
  return btoa(String.fromCodePoint(...new TextEncoder().encode(json)))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '');
}

export function decodeCursor(text: string): CursorState {
  try {
    const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'));
    const [startedAt, keyId, requestId, asOf] = JSON.parse(
      new TextDecoder().decode(Uint8Array.from(binary, (c) => c.codePointAt(0)!)),
    ) as string[];
    const instant = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
    if (typeof keyId === 'string' && typeof requestId === 'string' && instant.test(startedAt ?? '') && instant.test(asOf ?? '')) {
      return { startedAt: startedAt!, keyId, requestId, asOf: asOf! };
    }
  } catch {
    // Reported below, whatever went wrong.
  }
  throw badRequest(`Invalid 'cursor': pass back the nextCursor of the previous page unchanged.`, 'cursor', 'invalid_cursor');
}

/** The columns of a ledger row, as JSON keys and CSV headers. */
export const requestColumns: Column<LedgerRow>[] = [
  { name: 'startedAt', kind: 'instant', get: (row) => row.startedAt },
  { name: 'finishedAt', kind: 'instant', get: (row) => row.finishedAt },
  { name: 'recordedAt', kind: 'instant', get: (row) => row.recordedAt },
  { name: 'requestId', kind: 'text', get: (row) => row.requestId },
  { name: 'keyId', kind: 'text', get: (row) => row.keyId },
  { name: 'keyName', kind: 'text', get: (row) => row.keyName },
  { name: 'teamId', kind: 'text', get: (row) => row.teamId },
  { name: 'teamName', kind: 'text', get: (row) => row.teamName },
  { name: 'endpoint', kind: 'text', get: (row) => row.endpoint },
  { name: 'requestedModel', kind: 'text', get: (row) => row.requestedModel },
  { name: 'model', kind: 'text', get: (row) => row.model },
  { name: 'status', kind: 'text', get: (row) => row.status },
  { name: 'stream', kind: 'boolean', get: (row) => row.stream },
  { name: 'promptTokens', kind: 'integer', get: (row) => row.promptTokens },
  { name: 'completionTokens', kind: 'integer', get: (row) => row.completionTokens },
  { name: 'cost', kind: 'money', get: (row) => row.cost },
  { name: 'priceId', kind: 'integer', get: (row) => row.priceId },
  { name: 'usageSource', kind: 'text', get: (row) => row.usageSource },
  { name: 'usageNote', kind: 'text', get: (row) => row.usageNote },
  { name: 'errorCode', kind: 'text', get: (row) => row.errorCode },
  { name: 'latencyMs', kind: 'integer', get: (row) => row.latencyMs },
  { name: 'ttftMs', kind: 'integer', get: (row) => row.ttftMs },
  { name: 'admittedFailOpen', kind: 'boolean', get: (row) => row.admittedFailOpen },
  { name: 'overLimit', kind: 'boolean', get: (row) => row.overLimit },
  { name: 'tags', kind: 'json', get: (row) => row.tags },
];

interface Prepared {
  from: Date;
  to: Date;
  asOf: string;
  after: RequestsCursor | null;
  query: Record<string, unknown>;
}

async function prepare(ex: Executor, spec: RequestsSpec): Promise<Prepared> {
  const { from, to } = await resolveRange(ex, spec);
  const cursor = spec.cursor === null ? null : decodeCursor(spec.cursor);
  const asOf = cursor?.asOf ?? (await ledgerNow(ex));
  return {
    from,
    to,
    asOf,
    after: cursor,
    query: { from: from.toISOString(), to: to.toISOString(), tz: spec.tz, filters: filtersEcho(spec.filters), order: spec.order },
  };
}

const pageQuery = (spec: RequestsSpec, scope: ReportScope, prepared: Prepared, after: RequestsCursor | null, limit: number) => ({
  from: prepared.from,
  to: prepared.to,
  where: spec.filters,
  scopeTeams: scope.teams,
  order: spec.order,
  limit,
  after,
  asOf: prepared.asOf,
});

/** One page as JSON: the rows, and the cursor of the next page (null at the end). */
export async function requestsPage(ex: Executor, spec: RequestsSpec, scope: ReportScope) {
  const prepared = await prepare(ex, spec);
  const rows = await pageRequests(ex, pageQuery(spec, scope, prepared, prepared.after, spec.limit + 1));
  const hasMore = rows.length > spec.limit;
  const page = rows.slice(0, spec.limit);
  const last = page.at(-1);
  return {
    object: 'list',
    query: prepared.query,
    asOf: prepared.asOf,
    currency: 'USD',
    columns: requestColumns.map((column) => column.name),
    data: page.map((row) => jsonRow(requestColumns, row)),
    hasMore,
    nextCursor: hasMore && last ? encodeCursor({ ...last.cursor, asOf: prepared.asOf }) : null,
  };
}

/** Every row of the range, page by page (for CSV): constant memory whatever the range holds. */
export async function requestsAllPages(
  ex: Executor,
  spec: RequestsSpec,
  scope: ReportScope,
  pageSize = 5000,
): Promise<{ query: Record<string, unknown>; asOf: string; pages: AsyncIterable<LedgerRow[]> }> {
  const prepared = await prepare(ex, spec);
  async function* pages(): AsyncGenerator<LedgerRow[]> {
    let after = prepared.after;
    for (;;) {
      const rows = await pageRequests(ex, pageQuery(spec, scope, prepared, after, pageSize));
      if (rows.length > 0) yield rows;
      if (rows.length < pageSize) return;
      after = rows.at(-1)!.cursor;
    }
  }
  return { query: prepared.query, asOf: prepared.asOf, pages: pages() };
}
