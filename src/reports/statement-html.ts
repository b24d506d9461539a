import type { StatementRecord } from '../store/statements';
import { type StatementTeam, statementLines } from './statement';

/** Text made safe inside HTML elements and attribute values. */
export function escapeHtml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;');
}

interface Totals {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cost: string;
}

const number = (value: number) => value.toLocaleString('en-US');

/**
 * A statement as a printable page: no scripts, no external resources, every value escaped (names
 * are operator text).
 *
 * @example new Response(statementHtml(record, true), { headers: { 'content-type': 'text/html; charset=utf-8' } })
 */
export function statementHtml(record: StatementRecord, verified: boolean): string {
  const content = record.content;
  const team = content.team as StatementTeam | null;
  const totals = content.totals as { usage: Totals; adjustments: Totals; total: Totals };
  const e = (value: unknown) => escapeHtml(String(value ?? ''));
  const rows = statementLines(record)
    .map(
      (
        line,
      ) => `<tr class="${e(line.kind)}"><td>${line.lineNo}</td><td>${line.kind === 'adjustment' ? `adjustment (${e(line.usagePeriod)})` : 'usage'}</td>
<td>${e(line.keyName)}<br><small>${e(line.keyId)}</small></td><td>${e(line.model)}</td><td class="n">${number(line.requests)}</td>
<td class="n">${number(line.promptTokens)}</td><td class="n">${number(line.completionTokens)}</td><td class="n">$${e(line.cost)}</td></tr>`,
    )
    .join('\n');
  const totalRow = (label: string, t: Totals) =>
    `<tr class="total"><th colspan="4">${label}</th><td class="n">${number(t.requests)}</td><td class="n">${number(t.promptTokens)}</td><td class="n">${number(t.completionTokens)}</td><td class="n">$${e(t.cost)}</td></tr>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Statement ${e(record.id)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#111}h1{font-size:20px;margin:0 0 .2em}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{color:#555}dd{margin:0}
table{border-collapse:collapse;width:100%;margin-top:1em}th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
.n{text-align:right;font-variant-numeric:tabular-nums}.total th,.total td{font-weight:600;border-top:2px solid #111}
.adjustment td{background:#fff8e6}small{color:#666}code{font-size:12px;word-break:break-all}
@media print{body{margin:0}}
</style></head><body>
<h1>Chargeback statement: ${e(team ? team.name : 'Keys in no team')}</h1>
<dl>
<dt>Statement</dt><dd>${e(record.id)}</dd>
<dt>Period</dt><dd>${e(content.period)} (${e(content.periodStart)} to ${e(content.periodEnd)}, ${e(content.timezone)})</dd>
<dt>Team</dt><dd>${team ? `${e(team.name)} <small>${e(team.id)}</small>` : 'none'}</dd>
<dt>Cost center</dt><dd>${e(team?.costCenter ?? '-')}</dd>
<dt>Generated</dt><dd>${e(content.generatedAt)}</dd>
<dt>Currency</dt><dd>${e(content.currency)}</dd>
<dt>Content hash</dt><dd><code>sha256:${e(record.contentHash)}</code> ${verified ? '(verified)' : '<strong>(DOES NOT MATCH its content)</strong>'}</dd>
</dl>
<table>
<thead><tr><th>#</th><th>Line</th><th>Key</th><th>Model</th><th class="n">Requests</th><th class="n">Prompt tokens</th><th class="n">Completion tokens</th><th class="n">Cost</th></tr></thead>
<tbody>
${rows}
</tbody>
<tfoot>
${totalRow('Usage', totals.usage)}
${totalRow('Adjustments (late usage of earlier periods)', totals.adjustments)}
${totalRow('Total', totals.total)}
</tfoot>
</table>
</body></html>
`;
}
