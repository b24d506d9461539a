import { changePct, costPer1kTokens, costPerRequest } from '../../reports/overview';
import { Legend, StackedColumns, StackedTable } from './charts';
import { FilterForm, filterChoices } from './filter-form';
import { apiParams, csvUrl, queryOf, readFilters, type ViewFilters, withoutEmptyParams } from './filters';
import { count, usd } from './format';
import { scopeOf } from './guard';
import {
  loadOverview,
  OVERVIEW_BUCKETS,
  type Overview,
  type OverviewBucket,
  STACKS,
  type Stack,
  teamLabel,
  type UsageJson,
} from './overview-data';
import { ModelsCard, TopTable } from './overview-tables';
import { CsvLink, type DashboardContext, Layout, PAGE_HEADERS } from './page';

// The overview: where the money goes for a range. Totals and the derived ratios, spend per bucket
// stacked by model or team, the top keys and teams (the rest as 'other'), tokens per model.

type Totals = UsageJson['totals'];

const oneOf = <T extends string>(value: string | undefined, choices: readonly T[], fallback: T): T =>
  (choices as readonly string[]).includes(value ?? '') ? (value as T) : fallback;

function Kpi(props: { id: string; label: string; value: string; data: string | null; sub?: string | undefined; class?: string }) {
  return (
    <div class="kpi" data-kpi={props.id} data-value={props.data ?? ''}>
      <div class="label">{props.label}</div>
      <div class={`value ${props.class ?? ''}`}>{props.value}</div>
      {props.sub ? <div class="sub">{props.sub}</div> : null}
    </div>
  );
}

function Kpis(props: { overview: Overview; totals: Totals }) {
  const { totals, overview } = props;
  const tokens = totals.promptTokens + totals.completionTokens;
  const previous = overview.previous?.totals ?? null;
  const change = previous ? changePct(totals.cost, previous.cost) : null;
  const range = overview.previousRange;
  return (
    <div class="kpis">
      <Kpi id="cost" label="Spend" value={usd(totals.cost)} data={totals.cost} sub={`${count(totals.requests)} requests`} />
      <Kpi
        id="tokens"
        label="Tokens"
        value={count(tokens)}
        data={String(tokens)}
        sub={`prompt ${count(totals.promptTokens)} · completion ${count(totals.completionTokens)}`}
      />
      <Kpi
        id="cost-per-request"
        label="Cost per request"
        value={usd(costPerRequest(totals.cost, totals.requests))}
        data={costPerRequest(totals.cost, totals.requests)}
      />
      <Kpi
        id="cost-per-1k"
        label="Cost per 1k tokens"
        value={usd(costPer1kTokens(totals.cost, tokens))}
        data={costPer1kTokens(totals.cost, tokens)}
      />
      <Kpi
        id="change"
        label="Change vs previous period"
        value={change === null ? '—' : `${change}%`}
        data={change}
        class={change === null ? '' : change.startsWith('-') ? 'down' : 'up'}
        sub={previous && range ? `${usd(previous.cost)} from ${range.from} to ${range.to}` : 'no previous period to compare'}
      />
    </div>
  );
}

function SpendCard(props: { overview: Overview; bucket: OverviewBucket; stack: Stack; filters: ViewFilters }) {
  const { overview, bucket, stack } = props;
  const other = stack === 'model' ? 'team' : 'model';
  const total = overview.spend.totals.cost;
  return (
    <section class="card" aria-labelledby="spend-h">
      <div class="head-row">
        <h2 id="spend-h">{`Spend per ${bucket}, by ${stack}`}</h2>
        <span class="actions">
          <a href={queryOf(apiParams(props.filters, { bucket, stack: other }))}>{`Stack by ${other}`}</a>
          <CsvLink href={csvUrl('/reports/usage', overview.params.spend)} what={`spend per ${bucket} by ${stack}`} />
        </span>
      </div>
      <figure>
        {(['wide', 'narrow'] as const).map((layout) => (
          <StackedColumns
            id={layout === 'wide' ? 'spend' : 'spend-narrow'}
            layout={layout}
            chart={overview.chart}
            bucket={bucket}
            title={`Spend per ${bucket} by ${stack}`}
            description={`${overview.chart.columns.length} ${bucket}s from ${props.filters.from} to ${props.filters.to} (${props.filters.tz}), ${usd(total)} in all. Each column is a ${bucket}; focus one to hear its numbers, or open the data table.`}
          />
        ))}
        <figcaption>
          <Legend chart={overview.chart} />
        </figcaption>
      </figure>
      <StackedTable chart={overview.chart} bucket={bucket} />
    </section>
  );
}

/** `GET /dashboard`: the overview. */
export async function overviewPage(c: DashboardContext) {
  const clean = withoutEmptyParams(c.req.url);
  if (clean) return c.redirect(clean, 302);
  const { deps } = c.var;
  const now = deps.now();
  const query = c.req.query();
  const filters = readFilters(query, now);
  const bucket = oneOf(query.bucket, OVERVIEW_BUCKETS, 'day');
  const stack = oneOf(query.stack, STACKS, 'model');
  const scope = scopeOf(c);
  const [overview, choices] = await Promise.all([
    loadOverview(deps.store, filters, { bucket, stack }, scope, now),
    filterChoices(c, scope, false),
  ]);
  const keep = Object.fromEntries(Object.entries(apiParams(filters, { bucket, stack })).map(([name, values]) => [name, values[0]!]));
  return c.html(
    <Layout c={c} title="Overview" current="/dashboard" navQuery={queryOf(apiParams(filters))}>
      <div class="head-row">
        <h1>Overview</h1>
        <span class="muted small">
          {`${filters.from} to ${filters.to} (not included), ${filters.tz}`} ·{' '}
          <CsvLink href={csvUrl('/reports/usage', overview.params.totals)} what="totals" />
        </span>
      </div>
      <FilterForm
        action="/dashboard"
        filters={filters}
        choices={choices}
        now={now}
        keep={keep}
        extra={
          <>
            <label>
              Bucket
              <select name="bucket">
                {OVERVIEW_BUCKETS.map((choice) => (
                  <option value={choice} selected={choice === bucket}>
                    {choice}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Stack by
              <select name="stack">
                {STACKS.map((choice) => (
                  <option value={choice} selected={choice === stack}>
                    {choice}
                  </option>
                ))}
              </select>
            </label>
          </>
        }
      />
      <Kpis overview={overview} totals={overview.models.totals} />
      <SpendCard overview={overview} bucket={bucket} stack={stack} filters={filters} />
      <div class="grid2">
        <TopTable
          id="keys"
          title={`Top keys (${overview.keys.rows.length > 0 ? 'the rest as other' : 'none'})`}
          report={overview.keys}
          csv={csvUrl('/reports/usage', overview.params.keys)}
          name={(row) =>
            row.other === true
              ? { label: 'Other keys', sub: null, id: 'other' }
              : { label: String(row.keyName ?? row.keyId), sub: String(row.keyId), id: String(row.keyId) }
          }
        />
        <TopTable
          id="teams"
          title="Top teams"
          report={overview.teams}
          csv={csvUrl('/reports/usage', overview.params.teams)}
          name={(row) => ({
            label: teamLabel(row),
            sub: row.other === true || row.teamId === null ? null : [row.costCenter, row.teamId].filter(Boolean).join(' · '),
            id: row.other === true ? 'other' : ((row.teamId as string | null) ?? 'none'),
          })}
        />
      </div>
      <ModelsCard report={overview.models} csv={csvUrl('/reports/usage', overview.params.models)} />
      <p class="muted small">
        Amounts are exact (USD, as the reports API gives them); cost per request and per 1k tokens are rounded down to the picodollar; a
        dash marks a value that does not apply.
      </p>
    </Layout>,
    200,
    PAGE_HEADERS,
  );
}
