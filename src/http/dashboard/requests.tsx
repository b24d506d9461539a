import { GatewayError } from '../../errors';
import { parseRequestsSpec, type RequestDetail, requestsPage as readRequestsPage, requestDetail } from '../../reports';
import type { Params } from '../../reports/spec';
import { FilterForm, filterChoices } from './filter-form';
import { apiParams, csvUrl, queryOf, readFilters, withoutEmptyParams } from './filters';
import { count, localTime, usd } from './format';
import { scopeOf } from './guard';
import { CsvLink, type DashboardContext, Layout, Notice, PAGE_HEADERS } from './page';

// The ledger rows, filtered and paged with the API's own cursor (a listing holds the rows final
// at its first page's `asOf`, so paging never repeats or skips). A row opens in place, with what
// explains its bill: tokens estimated and billed, usage source, price version, timings, error.

const PAGE_SIZE = 50;
type Row = Record<string, unknown>;

function Detail(props: { detail: RequestDetail; tz: string }) {
  const d = props.detail;
  const item = (label: string, value: string, name?: string) => (
    <div>
      <dt>{label}</dt>
      <dd data-field={name}>{value}</dd>
    </div>
  );
  return (
    <div class="detail" data-detail={d.requestId}>
      <dl>
        {item('Prompt tokens estimated', count(d.promptTokensEstimated), 'promptTokensEstimated')}
        {item('Prompt tokens billed', count(d.promptTokens), 'promptTokens')}
        {item('Completion tokens estimated', count(d.completionTokensEstimated), 'completionTokensEstimated')}
        {item('Completion tokens billed', count(d.completionTokens), 'completionTokens')}
        {item('Completion cap (max_tokens)', count(d.maxCompletionTokens), 'maxCompletionTokens')}
        {item('Usage source', d.usageNote ? `${d.usageSource} (${d.usageNote})` : d.usageSource, 'usageSource')}
        {item('Reserved', usd(d.reservedCost), 'reservedCost')}
        {item('Billed', usd(d.cost), 'cost')}
        {item(
          'Price version',
          d.price
            ? `#${d.price.id}: ${usd(d.price.promptPer1k)} / ${usd(d.price.completionPer1k)} per 1k, from ${localTime(d.price.effectiveFrom, props.tz)}`
            : '—',
          'price',
        )}
        {item('Status', d.status, 'status')}
        {item('Error', d.errorCode ?? '—', 'errorCode')}
        {item('Attempts', count(d.attempts), 'attempts')}
        {item('Started', localTime(d.startedAt, props.tz), 'startedAt')}
        {item('Finished', localTime(d.finishedAt, props.tz), 'finishedAt')}
        {item('Recorded', localTime(d.recordedAt, props.tz), 'recordedAt')}
        {item('Latency', d.latencyMs === null ? '—' : `${count(d.latencyMs)} ms`, 'latencyMs')}
        {item('Time to first token', d.ttftMs === null ? '—' : `${count(d.ttftMs)} ms`, 'ttftMs')}
        {item('Endpoint', `${d.endpoint}${d.stream ? ', streamed' : ''}`, 'endpoint')}
        {item('Model', d.requestedModel === d.model ? d.model : `${d.requestedModel} → ${d.model}`, 'model')}
        {item(
          'Tags',
          Object.entries(d.tags)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ') || '—',
          'tags',
        )}
        {item('Fail-open / over limit', `${d.admittedFailOpen ? 'yes' : 'no'} / ${d.overLimit ? 'yes' : 'no'}`, 'failOpen')}
      </dl>
    </div>
  );
}

/** `GET /dashboard/requests`: ledger rows, newest first unless asked otherwise. */
export async function requestsPage(c: DashboardContext) {
  const clean = withoutEmptyParams(c.req.url);
  if (clean) return c.redirect(clean, 302);
  const { deps } = c.var;
  const now = deps.now();
  const query = c.req.query();
  const filters = readFilters(query, now);
  const order = query.order === 'asc' ? 'asc' : 'desc';
  const scope = scopeOf(c);
  const listing: Params = apiParams(filters, { order });
  const pageParams: Params = { ...listing, limit: [String(PAGE_SIZE)], ...(query.cursor ? { cursor: [query.cursor] } : {}) };
  const open = query.open ? { keyId: query.open.split(':')[0]!, requestId: query.open.split(':').slice(1).join(':') } : null;
  const [page, choices, detail] = await Promise.all([
    readRequestsPage(deps.store, parseRequestsSpec(pageParams), scope),
    filterChoices(c, scope, true),
    open
      ? requestDetail(deps.store, open.requestId, open.keyId, scope).catch((error) => {
          if (error instanceof GatewayError && error.status < 500) return error;
          throw error;
        })
      : null,
  ]);
  const here = (extra: Record<string, string>) =>
    queryOf({ ...pageParams, ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, [v]])) });
  const rows = page.data as Row[];
  const keep = Object.fromEntries(Object.entries(listing).map(([name, values]) => [name, values[0]!]));
  return c.html(
    <Layout c={c} title="Requests" current="/dashboard/requests" navQuery={queryOf(apiParams(filters))}>
      <div class="head-row">
        <h1>Requests</h1>
        <CsvLink href={csvUrl('/reports/requests', listing)} what="ledger rows of this range and filters" />
      </div>
      <FilterForm
        action="/dashboard/requests"
        filters={filters}
        choices={choices}
        now={now}
        keep={keep}
        status
        extra={
          <label>
            Order
            <select name="order">
              <option value="desc" selected={order === 'desc'}>
                newest first
              </option>
              <option value="asc" selected={order === 'asc'}>
                oldest first
              </option>
            </select>
          </label>
        }
      />
      {detail instanceof GatewayError ? <Notice kind="error">{detail.message}</Notice> : null}
      <section class="card" aria-label="Ledger rows">
        <p class="muted small">{`Rows final at ${localTime(page.asOf, filters.tz)} (${filters.tz}); ${PAGE_SIZE} per page. Open a row for its details.`}</p>
        <div class="scroll">
          <table data-table="requests">
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Request</th>
                <th scope="col">Key</th>
                <th scope="col">Team</th>
                <th scope="col">Model</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">
                  Prompt
                </th>
                <th scope="col" class="num">
                  Completion
                </th>
                <th scope="col" class="num">
                  Cost
                </th>
                <th scope="col" class="num">
                  Latency
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.length === 0 ? (
                <tr>
                  <td colspan={10} class="muted">
                    No ledger rows for these filters.
                  </td>
                </tr>
              ) : null}
              {rows.map((row) => {
                const id = `${row.keyId}:${row.requestId}`;
                const isOpen = open !== null && open.keyId === row.keyId && open.requestId === row.requestId;
                return (
                  <>
                    <tr
                      id={`r-${row.requestId}`}
                      data-request={String(row.requestId)}
                      data-key={String(row.keyId)}
                      data-cost={String(row.cost)}
                    >
                      <td class="mono">{localTime(String(row.startedAt), filters.tz)}</td>
                      <td>
                        <a
                          class="mono"
                          href={isOpen ? `${here({})}#r-${row.requestId}` : `${here({ open: id })}#r-${row.requestId}`}
                          aria-expanded={isOpen ? 'true' : 'false'}
                          aria-label={`${isOpen ? 'Close' : 'Open'} the details of ${row.requestId}`}
                        >
                          {String(row.requestId)}
                        </a>
                      </td>
                      <td>{String(row.keyName ?? row.keyId)}</td>
                      <td>{row.teamId === null ? <span class="muted">no team</span> : String(row.teamName ?? row.teamId)}</td>
                      <td>{String(row.model)}</td>
                      <td>
                        <span class={`tag ${row.status === 'ok' ? '' : 'warn'}`}>{String(row.status)}</span>
                      </td>
                      <td class="num">{count(Number(row.promptTokens))}</td>
                      <td class="num">{count(Number(row.completionTokens))}</td>
                      <td class="num">{usd(String(row.cost))}</td>
                      <td class="num">{row.latencyMs === null ? '—' : `${count(Number(row.latencyMs))} ms`}</td>
                    </tr>
                    {isOpen && detail && !(detail instanceof GatewayError) ? (
                      <tr class="detail">
                        <td colspan={10}>
                          <Detail detail={detail} tz={filters.tz} />
                        </td>
                      </tr>
                    ) : null}
                  </>
                );
              })}
            </tbody>
          </table>
        </div>
        <nav class="pager" aria-label="Pages">
          {query.cursor ? <a href={queryOf(listing)}>First page</a> : null}
          {page.nextCursor ? (
            <a class="button secondary" href={queryOf({ ...listing, cursor: [page.nextCursor] })} rel="next">
              Next page
            </a>
          ) : (
            <span class="muted small">End of the listing.</span>
          )}
        </nav>
      </section>
    </Layout>,
    200,
    PAGE_HEADERS,
  );
}
