import { badRequest, GatewayError } from '../errors';
import { recordAudit } from '../store/audit';
import type { Store } from '../store/db';
import { knownTimeZone, reportNames, reportReads } from '../store/reports-usage';
import {
  insertPeriod,
  insertStatement,
  listPeriods,
  lockPeriods,
  monthBounds,
  type PeriodRecord,
  periodUsage,
  type StatementRecord,
  type UsageLine,
  unbookedUsage,
} from '../store/statements';
import { issueStatement, type StatementTeam } from './statement';

// Closing a month: one transaction, serialized across instances, that records the period, books
// its usage (from the rollup) on one statement per team, and books every closed period's usage
// not yet on a statement (it settled after that close: a sweep, a fail-open replay) as adjustment
// lines of the team it was billed to. Periods close in order, in one time zone.

export interface CloseRequest {
  period: string;
  /** IANA zone of the month's bounds; default: that of the last closed period, else UTC. */
  timezone?: string;
  actor: string;
  requestId: string | null;
  /** The gateway's clock: a month closes only once it has ended. */
  now: Date;
}

function newStatementId(period: string): string {
  return `stmt_${period.replace('-', '')}_${crypto.randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

/**
 * Closes `period` and issues its statements. 409 when it is closed already, when a later one is,
 * or when it has not ended.
 *
 * @example await closePeriod(store, { period: '2026-10', actor: 'operator', requestId, now: new Date() })
 */
export async function closePeriod(store: Store, request: CloseRequest): Promise<{ period: PeriodRecord; statements: StatementRecord[] }> {
  return store.transaction(async (tx) => {
    await lockPeriods(tx);
    await reportReads(tx, async () => {});
    const closed = await listPeriods(tx);
    const last = closed.at(-1);
    if (closed.some((p) => p.period === request.period)) {
      throw new GatewayError(409, `Period ${request.period} is already closed; its statements never change.`, { code: 'period_closed' });
    }
    if (last && last.period > request.period) {
      throw new GatewayError(409, `Periods close in order: ${last.period} is closed, so ${request.period} can no longer be.`, {
        code: 'period_out_of_order',
      });
    }
    const timezone = request.timezone ?? last?.timezone ?? 'UTC';
    if (last && timezone !== last.timezone) {
      throw badRequest(
        `Periods are months in ${last.timezone} (the zone of ${last.period}); close ${request.period} in it too.`,
        'timezone',
        'invalid_value',
      );
    }
    if (!(await knownTimeZone(tx, timezone)))
      throw badRequest(`Invalid 'timezone': '${timezone}' is not an IANA time zone.`, 'timezone', 'invalid_value');
    const bounds = await monthBounds(tx, request.period, timezone);
    if (bounds.end.getTime() > request.now.getTime()) {
      throw new GatewayError(409, `Period ${request.period} ends at ${bounds.end.toISOString()}; it can be closed after that.`, {
        code: 'period_not_ended',
      });
    }
    const period = await insertPeriod(tx, {
      period: request.period,
      timezone,
      periodStart: bounds.start,
      periodEnd: bounds.end,
      closedBy: request.actor,
    });
    const usage = await periodUsage(tx, request.period, bounds.start, bounds.end);
    const late =
      closed.length > 0
        ? await unbookedUsage(
            tx,
            closed.map((p) => p.period),
          )
        : [];
    const names = await reportNames(tx, [...new Set([...usage, ...late].map((line) => line.keyId))]);
    const teamIds = [...new Set([...usage, ...late].map((line) => line.teamId))].sort();
    const statements: StatementRecord[] = [];
    for (const teamId of teamIds) {
      const team = names.teams.get(teamId);
      const statementTeam: StatementTeam | null =
        teamId === '' ? null : { id: teamId, name: team?.name ?? teamId, costCenter: team?.costCenter ?? null };
      const ofTeam = (lines: UsageLine[]) => lines.filter((line) => line.teamId === teamId);
      const { record, lines } = await issueStatement({
        id: newStatementId(request.period),
        period: request.period,
        timezone,
        periodStart: bounds.start,
        periodEnd: bounds.end,
        team: statementTeam,
        generatedAt: period.closedAt,
        usage: ofTeam(usage),
        adjustments: ofTeam(late),
        keyNames: names.keys,
      });
      await insertStatement(tx, record, lines);
      statements.push(record);
    }
    await recordAudit(tx, {
      actor: request.actor,
      action: 'period.close',
      target: request.period,
      detail: { timezone, statements: statements.map((s) => s.id), lateLines: late.length },
      requestId: request.requestId,
    });
    return { period, statements };
  });
}

/** A period as the API shows it. */
export function periodJson(period: PeriodRecord) {
  return {
    period: period.period,
    timezone: period.timezone,
    periodStart: period.periodStart.toISOString(),
    periodEnd: period.periodEnd.toISOString(),
    closedAt: period.closedAt.toISOString(),
    closedBy: period.closedBy,
  };
}
