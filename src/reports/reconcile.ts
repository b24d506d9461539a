import { formatUsd, parseUsd } from '../pricing';
import type { Store } from '../store/db';
import { compactionDifferences, readOneSnapshot, rollupDifferences, sourceTotals, windowDifferences } from '../store/reports-reconcile';
import { QUARTER_HOUR_MS, type Sums } from '../store/reports-usage';
import { bookedTotals, listPeriods, listStatements, periodUsage } from '../store/statements';
import { type Measures, measuresJson, sumMeasures } from './columns';
import { resolveRange } from './range';
import type { RangeSpec } from './spec';
import { contentHash, statementLines } from './statement';
import { usageReport } from './usage-report';

// The tie-out: for a range, the ledger's final rows = the quarter-hour rollup (group by group) =
// the compacted segments (with the rows recorded since) =
// what the usage report answers (ungrouped, and by day in `tz` per team, key, model, status and
// tag set) = the budget windows' counters (window by window), and every statement in it still
// hashes to what was issued. One read-only snapshot, so a settle landing meanwhile cannot make a
// difference appear or hide one. Each difference lists the request ids behind it.

export interface Check {
  name: 'rollup' | 'compaction' | 'budgetWindows' | 'report' | 'statements';
  description: string;
  ok: boolean;
  compared: number;
  differences: unknown[];
}

const equal = (a: Measures, b: Measures) =>
  a.requests === b.requests && a.promptTokens === b.promptTokens && a.completionTokens === b.completionTokens && a.cost === b.cost;

const big = (value: bigint) => value.toString();

/** Each statement of a tie-out may take this long (the store's own limit is meant for the request path). */
const TIE_OUT_STATEMENT_TIMEOUT_MS = 300_000;

/** A decimal USD string of ours, sign included, as picodollars. */
const signedUsd = (text: string) => (text.startsWith('-') ? -parseUsd(text.slice(1)) : parseUsd(text));

const Z: Sums = { requests: 0n, promptTokens: 0n, completionTokens: 0n, cost: 0n };

function windowJson(w: { spentCost: bigint; reservedCost: bigint; spentTokens: bigint; reservedTokens: bigint }) {
  return {
    spent: formatUsd(w.spentCost),
    reserved: formatUsd(w.reservedCost),
    spentTokens: big(w.spentTokens),
    reservedTokens: big(w.reservedTokens),
  };
}

/**
 * Proves [from, to) ties out; `ok` is false with the differences listed when it does not. The
 * range is widened to whole quarter hours (the rollup's grain) and says so.
 *
 * @example const result = await reconcile(store, { from: { date: '2026-10-01' }, to: { date: '2026-11-01' }, tz: 'UTC' }, new Date());
 */
export async function reconcile(store: Store, spec: RangeSpec, now: Date) {
  return store.transaction(
    async (tx) => {
      await readOneSnapshot(tx, TIE_OUT_STATEMENT_TIMEOUT_MS);
      const range = await resolveRange(tx, spec);
      const from = new Date(Math.floor(range.from.getTime() / QUARTER_HOUR_MS) * QUARTER_HOUR_MS);
      const to = new Date(Math.ceil(range.to.getTime() / QUARTER_HOUR_MS) * QUARTER_HOUR_MS);
      const totals = await sourceTotals(tx, from, to);
      const rollup = await rollupDifferences(tx, from, to);
      const windows = await windowDifferences(tx, from, to);
      const compaction = await compactionDifferences(tx, from, to);
      const scope = { teams: null, actor: 'reconcile' };
      const reportSpec = { from: { instant: from }, to: { instant: to }, tz: spec.tz, filters: {}, top: null };
      const flat = await usageReport(tx, { ...reportSpec, bucket: 'none', groupBy: [] }, scope, now);
      const byDay = await usageReport(
        tx,
        { ...reportSpec, bucket: 'day', groupBy: [{ kind: 'team' }, { kind: 'key' }, { kind: 'model' }, { kind: 'status' }] },
        scope,
        now,
      );
      const reported = [
        { view: 'ungrouped', totals: flat.totals, rowsSum: sumMeasures(flat.rows) },
        { view: `by day in ${spec.tz}, team, key, model, status`, totals: byDay.totals, rowsSum: sumMeasures(byDay.rows) },
      ];
      const reportDifferences = reported
        .filter((r) => !equal(r.totals, totals.ledger) || !equal(r.rowsSum, totals.ledger))
        .map((r) => ({
          view: r.view,
          reported: measuresJson(r.totals),
          rowsSum: measuresJson(r.rowsSum),
          ledger: measuresJson(totals.ledger),
        }));

      // Statements of closed periods that overlap the range: as issued, and internally consistent.
      const periods = (await listPeriods(tx)).filter((p) => p.periodStart < to && p.periodEnd > from);
      const booked = await bookedTotals(tx);
      const statementDifferences: unknown[] = [];
      let statementsCompared = 0;
      const periodViews = [];
      for (const period of periods) {
        for (const statement of await listStatements(tx, { period: period.period, scopeTeams: null })) {
          statementsCompared++;
          const lines = statementLines(statement);
          const hashOk = (await contentHash(statement.content)) === statement.contentHash;
          const lineSums = {
            requests: BigInt(lines.reduce((sum, line) => sum + line.requests, 0)),
            promptTokens: BigInt(lines.reduce((sum, line) => sum + line.promptTokens, 0)),
            completionTokens: BigInt(lines.reduce((sum, line) => sum + line.completionTokens, 0)),
            cost: lines.reduce((sum, line) => sum + signedUsd(line.cost), 0n),
          };
          const stored = statement.totals;
          const documentTotal = (statement.content.totals as { total: ReturnType<typeof measuresJson> }).total;
          const totalsOk =
            lineSums.requests === stored.requests &&
            lineSums.promptTokens === stored.promptTokens &&
            lineSums.completionTokens === stored.completionTokens &&
            lineSums.cost === stored.cost &&
            documentTotal.cost === measuresJson(stored).cost;
          if (!hashOk || !totalsOk) statementDifferences.push({ statementId: statement.id, period: statement.period, hashOk, totalsOk });
        }
        const ledger = sumMeasures(await periodUsage(tx, period.period, period.periodStart, period.periodEnd));
        const onStatements = booked.get(period.period) ?? Z;
        periodViews.push({
          period: period.period,
          ledger: measuresJson(ledger),
          onStatements: measuresJson(onStatements),
          notYetOnAStatement: measuresJson({
            requests: ledger.requests - onStatements.requests,
            promptTokens: ledger.promptTokens - onStatements.promptTokens,
            completionTokens: ledger.completionTokens - onStatements.completionTokens,
            cost: ledger.cost - onStatements.cost,
          }),
        });
      }

      const checks: Check[] = [
        {
          name: 'rollup',
          description: 'ledger rows = quarter-hour rollup, per quarter hour, team, key, model, status and tag set',
          ok: rollup.length === 0 && equal(totals.ledger, totals.rollup),
          compared: Number(totals.ledger.requests),
          differences: rollup.map((d) => ({
            bucketStart: d.bucketStart.toISOString(),
            teamId: d.teamId,
            keyId: d.keyId,
            model: d.model,
            status: d.status,
            tags: d.tags,
            ledger: measuresJson(d.ledger),
            rollup: measuresJson(d.rollup),
            requestIds: d.requestIds,
          })),
        },
        {
          name: 'compaction',
          description: 'compacted days and hours (with the rows recorded since) = quarter-hour rollup, per segment and group',
          ok: compaction.differences.length === 0,
          compared: compaction.checked,
          differences: compaction.differences.map((d) => ({
            segmentStart: d.segmentStart.toISOString(),
            segmentEnd: d.segmentEnd.toISOString(),
            teamId: d.teamId,
            keyId: d.keyId,
            model: d.model,
            status: d.status,
            tags: d.tags,
            compacted: measuresJson(d.compacted),
            rollup: measuresJson(d.rollup),
          })),
        },
        {
          name: 'budgetWindows',
          description: 'budget window counters = their rows (spent: final rows; reserved: pending rows), for windows starting in the range',
          ok: windows.differences.length === 0,
          compared: windows.checked,
          differences: windows.differences.map((d) => ({
            keyId: d.keyId,
            windowStart: d.windowStart.toISOString(),
            windowEnd: d.windowEnd.toISOString(),
            counter: windowJson(d.counter),
            ledger: windowJson(d.ledger),
            requestIds: d.requestIds,
          })),
        },
        {
          name: 'report',
          description: 'usage report totals and the sum of its rows = ledger rows',
          ok: reportDifferences.length === 0,
          compared: reported.length,
          differences: reportDifferences,
        },
        {
          name: 'statements',
          description: 'statements of closed periods in the range: lines sum to totals, content hash matches what was issued',
          ok: statementDifferences.length === 0,
          compared: statementsCompared,
          differences: statementDifferences,
        },
      ];
      return {
        object: 'report.reconcile',
        query: {
          from: from.toISOString(),
          to: to.toISOString(),
          tz: spec.tz,
          widenedToQuarterHours: from.getTime() !== range.from.getTime() || to.getTime() !== range.to.getTime(),
        },
        generatedAt: now.toISOString(),
        ok: checks.every((check) => check.ok),
        totals: { ledger: measuresJson(totals.ledger), rollup: measuresJson(totals.rollup), reported: measuresJson(flat.totals) },
        checks,
        periods: periodViews,
      };
    },
    // A month of ledger rows is read whole, several times: tens of seconds at 10M rows.
    { statementTimeoutMs: TIE_OUT_STATEMENT_TIMEOUT_MS },
  );
}
