import { costPer1kTokens, costPerRequest, largest, picodollarsOf } from '../../reports/overview';
import { BarCell, seriesClass } from './charts';
import { count, usd } from './format';
import type { UsageJson } from './overview-data';
import { CsvLink } from './page';

// The overview's tables: top keys and teams (the rest as 'other'), and tokens and unit cost per
// model. Each row carries its id and the report's cost in data-* attributes.

/** A top-N table: name, cost, requests, tokens and a bar of cost; 'other' last. */
export function TopTable(props: {
  id: string;
  title: string;
  report: UsageJson;
  csv: string;
  name: (row: Record<string, unknown>) => { label: string; sub: string | null; id: string };
}) {
  const rows = props.report.rows;
  const max = largest(rows.map((row) => picodollarsOf(String(row.cost))));
  return (
    <section class="card" aria-labelledby={`${props.id}-h`} data-table={props.id}>
      <div class="head-row">
        <h2 id={`${props.id}-h`}>{props.title}</h2>
        <CsvLink href={props.csv} what={props.title} />
      </div>
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col" class="num">
                Cost
              </th>
              <th scope="col" class="num">
                Requests
              </th>
              <th scope="col" class="num">
                Tokens
              </th>
              <th scope="col">
                <span class="muted">Share of the largest</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.length === 0 ? (
              <tr>
                <td colspan={5} class="muted">
                  No usage in this range.
                </td>
              </tr>
            ) : null}
            {rows.map((row, i) => {
              const name = props.name(row);
              const cost = String(row.cost);
              return (
                <tr class={row.other === true ? 'other' : ''} data-row={name.id} data-cost={cost}>
                  <th scope="row">
                    {name.label}
                    {name.sub ? (
                      <>
                        <br />
                        <small class="mono muted">{name.sub}</small>
                      </>
                    ) : null}
                  </th>
                  <td class="num">{usd(cost)}</td>
                  <td class="num">{count(Number(row.requests))}</td>
                  <td class="num">{count(Number(row.promptTokens) + Number(row.completionTokens))}</td>
                  <BarCell max={max} parts={[{ value: picodollarsOf(cost), class: seriesClass(i, row.other === true), data: { cost } }]} />
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function ModelsCard(props: { report: UsageJson; csv: string }) {
  const { rows, totals } = props.report;
  const tokensOf = (row: Record<string, unknown>) => Number(row.promptTokens) + Number(row.completionTokens);
  const max = BigInt(rows.reduce((top, row) => Math.max(top, tokensOf(row)), 0));
  return (
    <section class="card" aria-labelledby="models-h" data-table="models">
      <div class="head-row">
        <h2 id="models-h">Tokens and unit cost per model</h2>
        <CsvLink href={props.csv} what="usage per model" />
      </div>
      <div class="scroll">
        <table>
          <thead>
            <tr>
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
              <th scope="col" class="num">
                Per request
              </th>
              <th scope="col" class="num">
                Per 1k tokens
              </th>
              <th scope="col">
                <span class="muted">Tokens (prompt, completion)</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => {
              const cost = String(row.cost);
              return (
                <tr data-row={String(row.model)} data-cost={cost}>
                  <th scope="row">{String(row.model)}</th>
                  <td class="num">{count(Number(row.requests))}</td>
                  <td class="num">{count(Number(row.promptTokens))}</td>
                  <td class="num">{count(Number(row.completionTokens))}</td>
                  <td class="num">{usd(cost)}</td>
                  <td class="num">{usd(costPerRequest(cost, Number(row.requests)))}</td>
                  <td class="num">{usd(costPer1kTokens(cost, tokensOf(row)))}</td>
                  <BarCell
                    max={max}
                    parts={[
                      {
                        value: BigInt(Number(row.promptTokens)),
                        class: 'prompt',
                        data: { model: String(row.model), 'prompt-tokens': Number(row.promptTokens) },
                      },
                      {
                        value: BigInt(Number(row.completionTokens)),
                        class: 'completion',
                        data: { model: String(row.model), 'completion-tokens': Number(row.completionTokens) },
                      },
                    ]}
                  />
                </tr>
              );
            })}
          </tbody>
          <tfoot>
            <tr>
              <th scope="row">All models</th>
              <td class="num">{count(totals.requests)}</td>
              <td class="num">{count(totals.promptTokens)}</td>
              <td class="num">{count(totals.completionTokens)}</td>
              <td class="num">{usd(totals.cost)}</td>
              <td class="num">{usd(costPerRequest(totals.cost, totals.requests))}</td>
              <td class="num">{usd(costPer1kTokens(totals.cost, totals.promptTokens + totals.completionTokens))}</td>
              <td />
            </tr>
          </tfoot>
        </table>
      </div>
    </section>
  );
}
