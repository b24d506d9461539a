import { GatewayError } from '../../errors';
import { periodJson, statementJson, statementLines } from '../../reports';
import type { StatementTeam } from '../../reports/statement';
import { getStatement, listPeriods, listStatements } from '../../store/statements';
import { count, localTime, usd } from './format';
import { scopeOf } from './guard';
import { CsvLink, type DashboardContext, Layout, Notice, PAGE_HEADERS } from './page';

// Closed periods and their statements (one per team, as issued and hashed at the close), and a
// statement as a page that prints cleanly: the print stylesheet drops navigation and buttons.

interface Totals {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cost: string;
}

const teamOf = (content: Record<string, unknown>) => content.team as StatementTeam | null;

/** `GET /dashboard/statements`: closed periods, newest first, with the reader's statements. */
export async function statementsPage(c: DashboardContext) {
  const { deps } = c.var;
  const scope = scopeOf(c);
  const [periods, statements] = await Promise.all([listPeriods(deps.store), listStatements(deps.store, { scopeTeams: scope.teams })]);
  return c.html(
    <Layout c={c} title="Statements" current="/dashboard/statements">
      <div class="head-row">
        <h1>Statements</h1>
        <CsvLink href="/reports/statements?format=csv" what="every statement with its totals" />
      </div>
      {periods.length === 0 ? <p class="muted">No period is closed yet. The operator closes a month once it has ended.</p> : null}
      {[...periods].reverse().map((record) => {
        const period = periodJson(record);
        const own = statements.filter((statement) => statement.period === period.period);
        return (
          <section class="card" aria-labelledby={`p-${period.period}`} data-period={period.period}>
            <div class="head-row">
              <h2 id={`p-${period.period}`}>{period.period}</h2>
              <CsvLink href={`/reports/statements?period=${period.period}&format=csv`} what={`statements of ${period.period}`} />
            </div>
            <p class="muted small">{`${period.timezone}; closed ${localTime(period.closedAt, period.timezone)} by ${period.closedBy}`}</p>
            <div class="scroll">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Team</th>
                    <th scope="col">Cost center</th>
                    <th scope="col" class="num">
                      Requests
                    </th>
                    <th scope="col" class="num">
                      Cost
                    </th>
                    <th scope="col">Statement</th>
                  </tr>
                </thead>
                <tbody>
                  {own.length === 0 ? (
                    <tr>
                      <td colspan={5} class="muted">
                        No statement of yours in this period.
                      </td>
                    </tr>
                  ) : null}
                  {own.map((statement) => {
                    const team = teamOf(statement.content);
                    return (
                      <tr data-statement={statement.id}>
                        <th scope="row">{team ? team.name : 'Keys in no team'}</th>
                        <td>{team?.costCenter ?? '—'}</td>
                        <td class="num">{count(Number(statement.totals.requests))}</td>
                        <td class="num">{usd(String((statement.content.totals as { total: Totals }).total.cost))}</td>
                        <td>
                          <a href={`/dashboard/statements/${encodeURIComponent(statement.id)}`}>{statement.id}</a>{' '}
                          <CsvLink
                            href={`/reports/statements/${encodeURIComponent(statement.id)}?format=csv`}
                            what={`statement ${statement.id}`}
                          />
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          </section>
        );
      })}
    </Layout>,
    200,
    PAGE_HEADERS,
  );
}

function TotalRow(props: { label: string; totals: Totals; name: string }) {
  return (
    <tr data-total={props.name} data-cost={props.totals.cost}>
      <th scope="row" colspan={4}>
        {props.label}
      </th>
      <td class="num">{count(props.totals.requests)}</td>
      <td class="num">{count(props.totals.promptTokens)}</td>
      <td class="num">{count(props.totals.completionTokens)}</td>
      <td class="num">{usd(props.totals.cost)}</td>
    </tr>
  );
}

/** `GET /dashboard/statements/:id`: one statement as issued, printable. */
export async function statementPage(c: DashboardContext) {
  const { deps } = c.var;
  const id = c.req.param('id') ?? '';
  const record = await getStatement(deps.store, id, scopeOf(c).teams);
  if (!record) throw new GatewayError(404, `No statement '${id}'.`, { code: 'statement_not_found' });
  const json = (await statementJson(record)) as Record<string, unknown> & { verified: boolean; contentHash: string };
  const team = teamOf(record.content);
  const totals = record.content.totals as { usage: Totals; adjustments: Totals; total: Totals };
  const content = record.content as { periodStart: string; periodEnd: string; timezone: string; generatedAt: string };
  return c.html(
    <Layout c={c} title={`Statement ${record.id}`} current="/dashboard/statements">
      <article class="card statement" data-statement={record.id}>
        <div class="head-row">
          <h1>{`Chargeback statement: ${team ? team.name : 'keys in no team'}, ${record.period}`}</h1>
          <span class="actions">
            <a href={`/reports/statements/${encodeURIComponent(record.id)}?format=html`}>Plain printable page</a>
            <CsvLink href={`/reports/statements/${encodeURIComponent(record.id)}?format=csv`} what={`statement ${record.id}`} />
          </span>
        </div>
        {json.verified ? null : (
          <Notice kind="error">This statement does not match its content hash: it was changed after it was issued.</Notice>
        )}
        <dl class="meta">
          <dt>Statement</dt>
          <dd class="mono">{record.id}</dd>
          <dt>Period</dt>
          <dd>{`${record.period}: ${content.periodStart} to ${content.periodEnd} (${content.timezone})`}</dd>
          <dt>Team</dt>
          <dd>{team ? `${team.name} (${team.id})` : 'none'}</dd>
          <dt>Cost center</dt>
          <dd>{team?.costCenter ?? '—'}</dd>
          <dt>Generated</dt>
          <dd>{content.generatedAt}</dd>
          <dt>Currency</dt>
          <dd>{record.currency}</dd>
          <dt>Content hash</dt>
          <dd class="mono" data-verified={json.verified ? 'true' : 'false'}>
            {`sha256:${record.contentHash} ${json.verified ? '(verified)' : '(DOES NOT MATCH)'}`}
          </dd>
        </dl>
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Line</th>
                <th scope="col">Key</th>
                <th scope="col">Model</th>
                <th scope="col" class="num">
                  Requests
                </th>
                <th scope="col" class="num">
                  Prompt tokens
                </th>
                <th scope="col" class="num">
                  Completion tokens
                </th>
                <th scope="col" class="num">
                  Cost
                </th>
              </tr>
            </thead>
            <tbody>
              {statementLines(record).map((line) => (
                <tr class={line.kind} data-line={line.lineNo} data-cost={line.cost}>
                  <td>{line.lineNo}</td>
                  <td>{line.kind === 'adjustment' ? `adjustment (${line.usagePeriod})` : 'usage'}</td>
                  <td>
                    {line.keyName}
                    <br />
                    <small class="mono muted">{line.keyId}</small>
                  </td>
                  <td>{line.model}</td>
                  <td class="num">{count(line.requests)}</td>
                  <td class="num">{count(line.promptTokens)}</td>
                  <td class="num">{count(line.completionTokens)}</td>
                  <td class="num">{usd(line.cost)}</td>
                </tr>
              ))}
            </tbody>
            <tfoot>
              <TotalRow label="Usage" totals={totals.usage} name="usage" />
              <TotalRow label="Adjustments (late usage of earlier periods)" totals={totals.adjustments} name="adjustments" />
              <TotalRow label="Total" totals={totals.total} name="total" />
            </tfoot>
          </table>
        </div>
        <p class="muted small no-print">Print this page (Ctrl+P or ⌘P): navigation and buttons are left out of the printout.</p>
      </article>
    </Layout>,
    200,
    PAGE_HEADERS,
  );
}
