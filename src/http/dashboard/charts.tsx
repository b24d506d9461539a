import { formatUsd } from '../../pricing';
import { moneyTicks, type StackedChart } from '../../reports/overview';
import { bucketLabel, usd } from './format';

// Charts drawn on the server as SVG: nothing to load, nothing to run, the same on Workers and in
// print. Every mark carries the exact decimal strings the report gave (data-*), each column of a
// time chart is one keyboard stop with its numbers as its accessible name, and every chart comes
// with a data table. Geometry is the only place numbers become floats, and only for pixels.

/** The CSS class of the i-th series (8 colours, then the folded rest). */
export function seriesClass(index: number, other: boolean): string {
  return other || index >= 8 ? 'sother' : `s${index}`;
}

/** `part / whole` as a fraction for drawing (0 when whole is 0). */
function fraction(part: bigint, whole: bigint): number {
  return whole <= 0n ? 0 : Number((part * 1_000_000n) / whole) / 1_000_000;
}

/**
 * Two drawings of one chart, shown by width (CSS): `wide` for laptops and print, `narrow` for
 * phones, whose text stays readable at 390 px without scrolling sideways. The hidden one is
 * `display: none`, so neither screen readers nor the keyboard meet it.
 */
const LAYOUTS = {
  wide: { W: 1000, H: 300, M: { left: 74, right: 10, top: 12, bottom: 34 }, labels: 12 },
  narrow: { W: 400, H: 300, M: { left: 58, right: 6, top: 12, bottom: 34 }, labels: 4 },
} as const;

/** Spend per bucket, stacked by series: one focusable column per bucket. */
export function StackedColumns(props: {
  id: string;
  layout: keyof typeof LAYOUTS;
  chart: StackedChart;
  bucket: string;
  title: string;
  description: string;
}) {
  const { chart } = props;
  const { W, H, M, labels } = LAYOUTS[props.layout];
  const ticks = moneyTicks(chart.max);
  const top = ticks.at(-1)!;
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const y = (value: bigint) => M.top + plotH * (1 - fraction(value, top));
  const n = Math.max(chart.columns.length, 1);
  const step = plotW / n;
  const barW = Math.max(1, step * 0.78);
  const every = Math.ceil(n / labels);
  const columnX = (i: number) => M.left + i * step;
  return (
    // biome-ignore lint/a11y/useSemanticElements: an SVG chart is a group of marks; a fieldset cannot hold SVG
    <svg
      class={`plot ${props.layout}`}
      viewBox={`0 0 ${W} ${H}`}
      width="100%"
      role="group"
      aria-labelledby={`${props.id}-title ${props.id}-desc`}
      data-chart={props.id}
      data-max={formatUsd(chart.max)}
    >
      <title id={`${props.id}-title`}>{props.title}</title>
      <desc id={`${props.id}-desc`}>{props.description}</desc>
      {/* biome-ignore lint/a11y/noAriaHiddenOnFocusable: grid lines and axis labels take no focus; each column says its numbers */}
      <g aria-hidden="true">
        {ticks.map((tick) => (
          <>
            <line class="grid" x1={M.left} x2={W - M.right} y1={y(tick)} y2={y(tick)} />
            <text x={M.left - 6} y={y(tick) + 4} text-anchor="end">
              {usd(formatUsd(tick))}
            </text>
          </>
        ))}
        <line class="axis" x1={M.left} x2={W - M.right} y1={M.top + plotH} y2={M.top + plotH} />
        {chart.columns.map((column, i) =>
          i % every === 0 ? (
            <text x={columnX(i) + step / 2} y={H - M.bottom + 16} text-anchor="middle">
              {bucketLabel(column.bucket, props.bucket)}
            </text>
          ) : null,
        )}
      </g>
      {chart.columns.map((column, i) => {
        const x = columnX(i) + (step - barW) / 2;
        let base = 0n;
        const parts = chart.series
          .map((series, s) => ({ series, text: column.texts[s] ?? null }))
          .filter((part) => part.text !== null)
          .map((part) => `${part.series.label} ${usd(part.text)}`);
        const label = `${bucketLabel(column.bucket, props.bucket)}: ${usd(formatUsd(column.total))}${parts.length ? `; ${parts.join(', ')}` : ''}`;
        return (
          // biome-ignore lint/a11y/noInteractiveElementToNoninteractiveRole: one keyboard stop per column, named by its numbers
          <g class="bucket" tabindex="0" role="img" aria-label={label} data-bucket={column.bucket} data-total={formatUsd(column.total)}>
            <title>{label}</title>
            <rect class="hit" x={columnX(i)} y={M.top} width={step} height={plotH} />
            {chart.series.map((series, s) => {
              const text = column.texts[s];
              if (text === null || text === undefined) return null;
              const cost = column.costs[s]!;
              const y1 = y(base + cost);
              const y0 = y(base);
              base += cost;
              return (
                <rect
                  class={seriesClass(s, series.other)}
                  x={x.toFixed(2)}
                  y={y1.toFixed(2)}
                  width={barW.toFixed(2)}
                  height={Math.max(0, y0 - y1).toFixed(2)}
                  data-bucket={column.bucket}
                  data-series={series.other ? 'other' : (series.id ?? 'none')}
                  data-cost={text}
                />
              );
            })}
          </g>
        );
      })}
    </svg>
  );
}

/** A small square of a series' colour. */
export function Swatch(props: { class: string }) {
  return (
    <svg width="11" height="11" aria-hidden="true" focusable="false">
      <rect class={props.class} width="11" height="11" rx="2" />
    </svg>
  );
}

/** The series of a stacked chart with their totals over the range. */
export function Legend(props: { chart: StackedChart }) {
  return (
    <ul class="legend">
      {props.chart.series.map((series, s) => (
        <li data-series={series.other ? 'other' : (series.id ?? 'none')} data-cost={formatUsd(props.chart.seriesTotals[s]!)}>
          <Swatch class={seriesClass(s, series.other)} />
          {series.label} <span class="muted">{usd(formatUsd(props.chart.seriesTotals[s]!))}</span>
        </li>
      ))}
    </ul>
  );
}

/** The stacked chart's numbers as a table: bucket by series, and each bucket's total. */
export function StackedTable(props: { chart: StackedChart; bucket: string }) {
  const { chart } = props;
  return (
    <details class="data">
      <summary>Data table</summary>
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">Bucket</th>
              {chart.series.map((series) => (
                <th scope="col" class="num">
                  {series.label}
                </th>
              ))}
              <th scope="col" class="num">
                Total
              </th>
            </tr>
          </thead>
          <tbody>
            {chart.columns.map((column) => (
              <tr>
                <th scope="row">{bucketLabel(column.bucket, props.bucket)}</th>
                {column.texts.map((text) => (
                  <td class="num">{text === null ? '—' : usd(text)}</td>
                ))}
                <td class="num">{usd(formatUsd(column.total))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}

/**
 * A horizontal bar in a table cell, scaled to the largest row; `parts` stack (e.g. prompt and
 * completion tokens), each with its class and data attributes.
 */
export function BarCell(props: { parts: { value: bigint; class: string; data: Record<string, string | number> }[]; max: bigint }) {
  let offset = 0;
  return (
    <td class="bar" aria-hidden="true">
      <svg width="100%" height="12" focusable="false">
        <title>share of the largest row</title>
        <rect class="barbg" width="100%" height="12" rx="2" />
        {props.parts.map((part) => {
          const width = fraction(part.value, props.max) * 100;
          const x = offset;
          offset += width;
          const data = Object.fromEntries(Object.entries(part.data).map(([name, value]) => [`data-${name}`, String(value)]));
          return <rect class={part.class} x={`${x.toFixed(3)}%`} width={`${width.toFixed(3)}%`} height="12" rx="2" {...data} />;
        })}
      </svg>
    </td>
  );
}

/**
 * A budget's utilisation: spent, then reserved, against the limit (the full width), the soft
 * threshold as a tick and the projection to the end of the period as a dashed tick. Past 100%
 * the scale grows (up to 200%) and the limit gets its own line.
 */
export function UtilisationBar(props: {
  utilisationPct: string | null;
  spentPct: number;
  softThresholdPct: number | null;
  projectedPct: string | null;
  label: string;
}) {
  const used = Number(props.utilisationPct ?? '0');
  const projected = props.projectedPct === null ? null : Number(props.projectedPct);
  const domain = Math.min(200, Math.max(100, used, projected ?? 0));
  const at = (pct: number) => `${((Math.min(pct, domain) / domain) * 100).toFixed(3)}%`;
  return (
    <svg
      class="util"
      width="100%"
      height="18"
      role="img"
      aria-label={props.label}
      data-utilisation={props.utilisationPct ?? ''}
      data-soft={props.softThresholdPct ?? ''}
      data-projected={props.projectedPct ?? ''}
    >
      <title>{props.label}</title>
      <rect class="barbg" width="100%" height="18" rx="3" />
      <rect class="reserved" width={at(used)} height="18" rx="3" />
      <rect class="spent" width={at(props.spentPct)} height="18" rx="3" />
      {domain > 100 ? <line class="soft" x1={at(100)} x2={at(100)} y1="0" y2="18" /> : null}
      {props.softThresholdPct !== null ? (
        <line class="soft" x1={at(props.softThresholdPct)} x2={at(props.softThresholdPct)} y1="0" y2="18" />
      ) : null}
      {projected !== null ? <line class="projection" x1={at(projected)} x2={at(projected)} y1="0" y2="18" /> : null}
    </svg>
  );
}
