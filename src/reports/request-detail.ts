import { GatewayError } from '../errors';
import type { Executor } from '../store/db';
import { getKey } from '../store/keys';
import { findRequests, type RequestView } from '../store/requests';
import { getTeam } from '../store/teams';
import type { ReportScope } from './range';

// One ledger row in full, for finance: what the listing shows plus what explains its bill (tokens
// estimated at admission against tokens billed, the reservation, the price version, the timings).
// Scoped like every report: a row of a team the reader may not see does not exist.

const notFound = (requestId: string) =>
  new GatewayError(404, `No request '${requestId}' in the ledger.`, { code: 'request_not_found', param: 'requestId' });

/** The detail of a row as JSON: money as decimal USD strings, instants as ISO text. */
export function requestDetailJson(row: RequestView, names: { keyName: string | null; teamName: string | null }) {
  return {
    object: 'ledger.row',
    requestId: row.requestId,
    keyId: row.keyId,
    keyName: names.keyName,
    teamId: row.teamId,
    teamName: names.teamName,
    tags: row.tags,
    endpoint: row.endpoint,
    requestedModel: row.requestedModel,
    model: row.routedModel ?? row.requestedModel,
    status: row.status,
    stream: row.stream,
    promptTokensEstimated: row.promptTokensEstimated,
    promptTokens: row.promptTokens,
    maxCompletionTokens: row.maxCompletionTokens,
    completionTokensEstimated: row.completionTokensEstimated,
    completionTokens: row.completionTokens,
    usageSource: row.usageSource,
    usageNote: row.usageNote,
    reservedCost: row.reservedCost,
    cost: row.billedCost,
    price: row.price ? { ...row.price, effectiveFrom: row.price.effectiveFrom.toISOString() } : null,
    errorCode: row.errorCode,
    attempts: row.attempts,
    admittedFailOpen: row.admittedFailOpen,
    overLimit: row.overLimit,
    startedAt: row.startedAt.toISOString(),
    finishedAt: row.finishedAt?.toISOString() ?? null,
    recordedAt: row.recordedAt?.toISOString() ?? null,
    latencyMs: row.latencyMs,
    ttftMs: row.ttftMs,
  };
}

export type RequestDetail = ReturnType<typeof requestDetailJson>;

/**
 * `GET /reports/requests/{requestId}?key=`: one ledger row the reader may see. Request ids are
 * per key; when several visible keys hold the id, `key` says which (409 otherwise).
 *
 * @example await requestDetail(store, 'req_3f2a…', 'key_9a64…', { teams: null, actor: 'operator' })
 */
export async function requestDetail(
  ex: Executor,
  requestId: string,
  keyId: string | undefined,
  scope: ReportScope,
): Promise<RequestDetail> {
  const rows = (await findRequests(ex, requestId, keyId)).filter(
    (row) => scope.teams === null || (row.teamId !== null && scope.teams.includes(row.teamId)),
  );
  if (rows.length === 0) throw notFound(requestId);
  const keys = new Set(rows.map((row) => row.keyId));
  if (keys.size > 1) {
    throw new GatewayError(409, `Request id '${requestId}' is held by ${keys.size} keys; add ?key= to say which.`, {
      code: 'ambiguous_request_id',
      param: 'key',
    });
  }
  const row = rows[0]!;
  const [key, team] = await Promise.all([getKey(ex, row.keyId), row.teamId ? getTeam(ex, row.teamId) : null]);
  return requestDetailJson(row, { keyName: key?.name ?? null, teamName: team?.name ?? null });
}
