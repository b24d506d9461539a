import { z } from 'zod';
import { badRequest } from '../errors';
import { type Money, parsePricePer1k } from '../pricing';
import type { Executor } from '../store/db';
import { groupUsage, reportNames, reportReads } from '../store/reports-usage';
import { percent } from './budgets';
import { type Column, jsonRow, type Measures, measuresJson } from './columns';
import { type PlanOptions, planUsage } from './plan';
import { filtersEcho, type ReportScope, resolveRange } from './range';
import { type Dimension, dimensionName, type Params, parseFilters, parseUsageSpec } from './spec';
import { type UsageReportRow, usageColumns } from './usage';

// Re-pricing preview: what a range's usage would have cost under a candidate price book, beside
// what was billed. Prices are per token exact (a per-1k price has at most 9 decimals), so the
// candidate cost of a group is its token sums times the candidate prices: served from the rollup,
// and equal to re-pricing each row. Nothing is written.

const priceText = z.string().regex(/^\d{1,15}(\.\d{1,9})?$/, 'must be a decimal USD string per 1k tokens such as "0.03"');

export const repriceSchema = z.strictObject({
  from: z.string(),
  to: z.string(),
  tz: z.string().optional(),
  groupBy: z.array(z.string()).max(6).default(['model']),
  filters: z.record(z.string(), z.array(z.string()).max(1000)).default({}),
  prices: z.record(z.string().min(1).max(256), z.strictObject({ prompt: priceText, completion: priceText })),
});

export type RepriceBody = z.output<typeof repriceSchema>;

interface CandidatePrice {
  promptPerToken: Money;
  completionPerToken: Money;
}

export interface RepriceRow extends UsageReportRow {
  billed: bigint;
  candidate: bigint;
  /** Every model in the row had a candidate price. */
  repriced: boolean;
}

function candidateBook(prices: RepriceBody['prices']): Map<string, CandidatePrice> {
  const book = new Map<string, CandidatePrice>();
  for (const [model, price] of Object.entries(prices)) {
    try {
      book.set(model, {
        promptPerToken: parsePricePer1k(price.prompt) / 1000n,
        completionPerToken: parsePricePer1k(price.completion) / 1000n,
      });
    } catch (error) {
      throw badRequest(`Invalid price for '${model}': ${(error as Error).message}.`, `prices.${model}`, 'invalid_value');
    }
  }
  return book;
}

/**
 * The preview, grouped as asked (default: by model).
 *
 * @example await repricePreview(store, body, { teams: null, actor: 'operator' }, new Date())
 */
export async function repricePreview(ex: Executor, body: RepriceBody, scope: ReportScope, now: Date, options: PlanOptions = {}) {
  const params: Params = { from: [body.from], to: [body.to], ...(body.tz ? { tz: [body.tz] } : {}), groupBy: [body.groupBy.join(',')] };
  const spec = parseUsageSpec(params);
  spec.filters = parseFilters(body.filters);
  const book = candidateBook(body.prices);
  const { from, to } = await resolveRange(ex, spec);
  // Grouped by model too, whatever the caller groups by: the price is per model.
  const modelIndex = spec.groupBy.findIndex((d) => d.kind === 'model');
  const columns: Dimension[] = modelIndex >= 0 ? spec.groupBy : [...spec.groupBy, { kind: 'model' }];
  const plan = await planUsage(ex, from, to, spec.tz, 'none', options);
  const groups = await reportReads(ex, (reads) =>
    groupUsage(reads, {
      from,
      to,
      tz: spec.tz,
      bucket: 'none',
      columns,
      where: spec.filters,
      scopeTeams: scope.teams,
      plan,
    }),
  );
  const model = modelIndex >= 0 ? modelIndex : columns.length - 1;
  const rows = new Map<string, RepriceRow>();
  const unpriced = new Set<string>();
  for (const group of groups) {
    const price = book.get(group.values[model] ?? '');
    if (!price) unpriced.add(group.values[model] ?? '');
    const candidate = price ? group.promptTokens * price.promptPerToken + group.completionTokens * price.completionPerToken : group.cost;
    const values = group.values.slice(0, spec.groupBy.length);
    const key = JSON.stringify(values);
    const row = rows.get(key);
    if (row) {
      row.requests += group.requests;
      row.promptTokens += group.promptTokens;
      row.completionTokens += group.completionTokens;
      row.cost += group.cost;
      row.billed += group.cost;
      row.candidate += candidate;
      row.repriced &&= price !== undefined;
    } else {
      rows.set(key, { ...group, bucket: null, values, other: false, billed: group.cost, candidate, repriced: price !== undefined });
    }
  }
  const sorted = [...rows.values()].sort((a, b) => (a.billed > b.billed ? -1 : a.billed < b.billed ? 1 : 0));
  const keyIndex = spec.groupBy.findIndex((d) => d.kind === 'key');
  const names = await reportNames(ex, keyIndex < 0 ? [] : [...new Set(sorted.map((row) => row.values[keyIndex]!).filter(Boolean))]);
  const dimensionColumns = usageColumns(spec.groupBy, { bucketed: false, top: false, names }).filter((c) => !['cost'].includes(c.name));
  const reportColumns: Column<RepriceRow>[] = [
    ...(dimensionColumns as Column<RepriceRow>[]),
    { name: 'billedCost', kind: 'money', get: (row) => row.billed },
    { name: 'candidateCost', kind: 'money', get: (row) => row.candidate },
    { name: 'difference', kind: 'money', get: (row) => row.candidate - row.billed },
    { name: 'differencePct', kind: 'text', get: (row) => percent(row.candidate - row.billed, row.billed) },
    { name: 'repriced', kind: 'boolean', get: (row) => row.repriced },
  ];
  const total = sorted.reduce<Measures & { candidate: bigint }>(
    (sum, row) => ({
      requests: sum.requests + row.requests,
      promptTokens: sum.promptTokens + row.promptTokens,
      completionTokens: sum.completionTokens + row.completionTokens,
      cost: sum.cost + row.billed,
      candidate: sum.candidate + row.candidate,
    }),
    { requests: 0n, promptTokens: 0n, completionTokens: 0n, cost: 0n, candidate: 0n },
  );
  const { cost: billed, ...counts } = measuresJson(total);
  return {
    columns: reportColumns,
    rows: sorted,
    json: {
      object: 'report.reprice',
      query: {
        from: from.toISOString(),
        to: to.toISOString(),
        tz: spec.tz,
        groupBy: spec.groupBy.map(dimensionName),
        filters: filtersEcho(spec.filters),
        prices: body.prices,
      },
      generatedAt: now.toISOString(),
      currency: 'USD',
      unpricedModels: [...unpriced].sort(),
      columns: reportColumns.map((column) => column.name),
      rows: sorted.map((row) => jsonRow(reportColumns, row)),
      totals: {
        ...counts,
        billedCost: billed,
        candidateCost: measuresJson({ ...total, cost: total.candidate }).cost,
        difference: measuresJson({ ...total, cost: total.candidate - total.cost }).cost,
        differencePct: percent(total.candidate - total.cost, total.cost),
      },
    },
  };
}
