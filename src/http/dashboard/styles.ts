import { createHash } from 'node:crypto';

// The dashboard's one stylesheet, served by the gateway itself (no CDN, no build step): pages
// carry no inline styles, so the Content-Security-Policy allows styles from 'self' only. Series
// colours are a categorical palette that stays apart for the common colour-vision deficiencies;
// every chart also carries its numbers as text.

export const DASHBOARD_CSS = `
:root{--ink:#1b1e23;--muted:#5b6470;--line:#d9dde3;--bg:#f6f7f9;--card:#fff;--accent:#2f5bd3;--warn:#b35c00;--warn-bg:#fff4e5;--over:#b3261e;--over-bg:#fdecea;--ok:#2e7d32;
--s0:#4269d0;--s1:#efb118;--s2:#ff725c;--s3:#6cc5b0;--s4:#3ca951;--s5:#ff8ab7;--s6:#a463f2;--s7:#97bbf5;--other:#9aa0a6}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
a{color:var(--accent)}
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,summary:focus-visible,[tabindex]:focus-visible{outline:3px solid #111;outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:#fff;padding:.5em 1em;z-index:10}
.skip:focus{left:.5em}
header.top{display:flex;flex-wrap:wrap;align-items:center;gap:.5em 1.5em;padding:.6em 1.2em;background:#14171c;color:#fff}
header.top .brand{font-weight:700;letter-spacing:.02em}
header.top nav{display:flex;flex-wrap:wrap;gap:.2em .3em}
header.top nav a{color:#dfe6f3;text-decoration:none;padding:.3em .6em;border-radius:6px}
header.top nav a[aria-current=page]{background:#2d3440;color:#fff}
header.top .who{margin-left:auto;display:flex;align-items:center;gap:.6em;font-size:13px;color:#c6ccd6}
header.top .who form{margin:0}
header.top button{background:transparent;color:#fff;border:1px solid #5b6470;border-radius:6px;padding:.25em .7em;font:inherit;cursor:pointer}
main{max-width:1320px;margin:0 auto;padding:1em 1.2em 3em}
h1{font-size:22px;margin:.4em 0 .6em}
h2{font-size:17px;margin:0 0 .5em}
section.card,article.card,.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:1em 1.1em;margin:0 0 1em}
.muted{color:var(--muted)}
small,.small{font-size:12.5px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.notice{border-radius:8px;padding:.7em 1em;margin:0 0 1em;border:1px solid}
.notice.error{background:var(--over-bg);border-color:#f2b8b5;color:#601410}
.notice.info{background:#eaf2ff;border-color:#b9cdf5}
.notice.secret{background:#fffbe6;border-color:#f0d36b}
.secret-value{display:block;font-size:15px;padding:.5em;background:#fff;border:1px dashed #b08d00;margin:.4em 0;word-break:break-all;user-select:all}
.head-row{display:flex;flex-wrap:wrap;align-items:baseline;justify-content:space-between;gap:.5em}
.csv{display:inline-block;font-size:13px;border:1px solid var(--line);border-radius:6px;padding:.15em .6em;text-decoration:none;background:#fff;white-space:nowrap}
form.filters{display:flex;flex-wrap:wrap;align-items:flex-end;gap:.6em .9em}
form.filters label,form.stack label{display:flex;flex-direction:column;font-size:12.5px;color:var(--muted);gap:.2em}
input,select{font:inherit;font-size:14px;padding:.35em .5em;border:1px solid #b9c0ca;border-radius:6px;background:#fff;color:var(--ink);min-width:0}
input[type=date]{min-width:9.5em}
button,.button{font:inherit;font-size:14px;padding:.4em .9em;border-radius:6px;border:1px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer;text-decoration:none;display:inline-block}
button.secondary,.button.secondary{background:#fff;color:var(--accent)}
button.danger{background:var(--over);border-color:var(--over)}
.presets{display:flex;flex-wrap:wrap;gap:.4em;margin:.6em 0 0;font-size:13px}
.presets a{text-decoration:none;border:1px solid var(--line);border-radius:999px;padding:.1em .7em;background:#fff}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:.8em;margin:0 0 1em}
.kpi{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:.8em 1em}
.kpi .label{font-size:12.5px;color:var(--muted)}
.kpi .value{font-size:21px;font-weight:650;font-variant-numeric:tabular-nums;word-break:break-all}
.kpi .sub{font-size:12.5px;color:var(--muted)}
.up{color:var(--over)}.down{color:var(--ok)}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,520px),1fr));gap:1em}
.grid2>.card{margin:0}
.grid2{margin:0 0 1em}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
figure{margin:0}
svg.plot{display:block}
svg.plot.narrow{display:none}
svg text{font:11px system-ui,sans-serif;fill:var(--muted)}
svg .grid{stroke:#e6e9ee}
svg .axis{stroke:#9aa0a6}
.s0{fill:var(--s0)}.s1{fill:var(--s1)}.s2{fill:var(--s2)}.s3{fill:var(--s3)}.s4{fill:var(--s4)}.s5{fill:var(--s5)}.s6{fill:var(--s6)}.s7{fill:var(--s7)}.sother{fill:var(--other)}
.prompt{fill:var(--s0)}.completion{fill:var(--s1)}
svg .hit{fill:transparent;stroke:none}
svg .bucket:hover .hit,svg .bucket:focus .hit{fill:rgba(20,23,28,.07);stroke:#14171c;stroke-width:1.5}
svg .bucket:focus{outline:none}
ul.legend{list-style:none;display:flex;flex-wrap:wrap;gap:.3em 1em;padding:0;margin:.5em 0 0;font-size:13px}
ul.legend svg{vertical-align:-2px;margin-right:.3em}
details.data{margin-top:.5em;font-size:13px}
details.data summary{cursor:pointer;color:var(--accent)}
table{border-collapse:collapse;width:100%;font-size:13.5px}
th,td{padding:.35em .5em;border-bottom:1px solid #edf0f3;text-align:left;vertical-align:top}
thead th{font-size:12.5px;color:var(--muted);font-weight:600;border-bottom:1px solid var(--line);white-space:nowrap}
tfoot th,tfoot td{font-weight:650;border-top:2px solid var(--ink)}
tr.other td{color:var(--muted);font-style:italic}
td.bar{width:32%;min-width:90px}
td.bar svg{display:block}
.barbg{fill:#eef1f5}
.budgets{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,360px),1fr));gap:1em}
.budget{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:.9em 1em;display:flex;flex-direction:column;gap:.45em}
.budget.warn{border-color:#f0b46b;background:var(--warn-bg)}
.budget.over{border-color:#f2b8b5;background:var(--over-bg)}
.budget h3{font-size:15px;margin:0;display:flex;justify-content:space-between;gap:.5em;flex-wrap:wrap}
.budget dl{display:grid;grid-template-columns:max-content 1fr;gap:.1em .8em;margin:0;font-size:13px}
.budget dt{color:var(--muted)}.budget dd{margin:0;font-variant-numeric:tabular-nums}
.util .spent{fill:var(--accent)}.util .reserved{fill:#9db5ef}.util .soft{stroke:#14171c;stroke-width:2}.util .projection{stroke:#14171c;stroke-width:2;stroke-dasharray:3 2}
.warn .util .spent{fill:var(--warn)}.over .util .spent{fill:var(--over)}
.tag{display:inline-block;font-size:11.5px;border-radius:999px;padding:0 .55em;border:1px solid var(--line);background:#fff;color:var(--muted);white-space:nowrap}
.tag.warn{border-color:#f0b46b;color:var(--warn)}.tag.over{border-color:#f2b8b5;color:var(--over)}
.actions{display:flex;flex-wrap:wrap;gap:.4em}
.actions details{width:100%}
.actions summary{cursor:pointer;color:var(--accent);font-size:13.5px}
form.inline{display:grid;grid-template-columns:repeat(auto-fit,minmax(120px,1fr));gap:.5em;margin:.5em 0;align-items:end}
form.inline label{display:flex;flex-direction:column;font-size:12.5px;color:var(--muted);gap:.2em}
form.inline fieldset{border:0;padding:0;margin:0;display:flex;gap:.8em;align-items:center;font-size:13px}
tr.detail>td{background:#f9fafb;padding:.8em}
.detail dl{display:grid;grid-template-columns:repeat(auto-fit,minmax(230px,1fr));gap:.3em 1.2em;margin:0}
.detail dl div{display:flex;justify-content:space-between;gap:.6em;border-bottom:1px dotted #dde1e6}
.detail dt{color:var(--muted)}.detail dd{margin:0;text-align:right;word-break:break-all}
.pager{display:flex;gap:.8em;align-items:center;margin-top:.8em;flex-wrap:wrap}
.login{max-width:420px;margin:10vh auto;background:#fff;border:1px solid var(--line);border-radius:12px;padding:1.5em}
.login label{display:flex;flex-direction:column;gap:.3em;font-size:13.5px;color:var(--muted)}
.login input{width:100%}
.login button{margin-top:1em;width:100%}
.statement dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;margin:0 0 1em}
.statement dl.meta dt{color:var(--muted)}.statement dl.meta dd{margin:0;word-break:break-all}
tr.adjustment td{background:#fff8e6}
.print-only{display:none}
.spaced,.card.spaced{margin-top:1.2em}
ul.plain{list-style:none;padding:0;margin:0}
ul.plain li{padding:.5em 0;border-bottom:1px solid #edf0f3}
@media (max-width:640px){
  svg.plot.wide{display:none}
  svg.plot.narrow{display:block}
  main{padding:.8em .7em 2em}
  header.top{padding:.5em .7em}
  header.top .who{margin-left:0;width:100%}
  .kpi .value{font-size:18px}
  td.bar{min-width:70px}
  h1{font-size:19px}
}
@media print{
  body{background:#fff;font-size:11pt}
  header.top,.no-print,form.filters,.presets,.csv,.actions,details.data summary,.pager,.skip{display:none !important}
  .print-only{display:block}
  main{max-width:none;padding:0}
  .card,section.card{border:0;padding:0;margin:0 0 1em}
  a{color:inherit;text-decoration:none}
  tr{break-inside:avoid}
  thead{display:table-header-group}
}
`;

/** A short hash of the stylesheet for its URL, so a new version is never served from a stale cache. */
export const DASHBOARD_CSS_VERSION = createHash('sha256').update(DASHBOARD_CSS).digest('hex').slice(0, 12);
export const DASHBOARD_CSS_PATH = `/dashboard/assets/dashboard.css?v=${DASHBOARD_CSS_VERSION}`;
