import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { percent, usd } from '../table';
import { reportCharts, type ReportCharts } from './htmlCharts';
import { REPORT_CLIENT_SCRIPT } from './htmlClient';
import type { ExpensiveRequest, GroupFigures, Interval, RoutingReport } from './model';

/**
 * The report as one self-contained HTML page: tables written here (readable without JavaScript, and on paper),
 * charts drawn in the page by an inlined Chart.js from the same figures. Its Content-Security-Policy allows its
 * own inline scripts and style and nothing else, so opening it fetches nothing.
 */

export interface ReportHtmlOptions {
  title?: string;
}

export function renderReportHtml(report: RoutingReport, options: ReportHtmlOptions = {}): string {
  const title = options.title ?? 'Routing report';
  const empty = report.totals.requests === 0;
  const charts = empty ? null : reportCharts(report);
  const scripts = charts ? [chartJsSource(), REPORT_CLIENT_SCRIPT] : [];
  const csp = [
    "default-src 'none'",
    `style-src ${cspHash(STYLE)}`,
    `script-src ${scripts.length > 0 ? scripts.map(cspHash).join(' ') : "'none'"}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  const body = empty
    ? `<p class="empty" role="status">This window has no requests: there is nothing to chart or total.</p>`
    : [summarySection(report), chartsSection(charts!), expensiveSection(report.expensive)].join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${esc(title)}</h1>
${windowLine(report)}
</header>
<main>
${body}
</main>
<script type="application/json" id="report-data">${jsonForScript({ report, charts })}</script>
${scripts.map((s) => `<script>${s}</script>`).join('\n')}
</body>
</html>
`;
}

/** HTML-escapes text for an element or a quoted attribute: every name in a report is user data. */
function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON that no string in it can end the script element holding it (nor open a comment there). */
function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

const cspHash = (source: string) => `'sha256-${createHash('sha256').update(source, 'utf8').digest('base64')}'`;

let chartJs: string | undefined;

/**
 * Chart.js's UMD build, read from the installed (pinned) package. Its `exports` map offers only the CJS and ESM
 * entry points, so the UMD file is found beside the CJS one. The source-map comment goes: the page loads nothing.
 */
function chartJsSource(): string {
  if (chartJs === undefined) {
    const file = join(dirname(require.resolve('chart.js')), 'chart.umd.min.js');
    const source = readFileSync(file, 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
    if (/<\/script|<!--|<script/i.test(source)) throw new Error(`${file}: cannot be inlined, it contains text that would end its <script> element`);
    chartJs = source;
  }
  return chartJs;
}

function windowLine(report: RoutingReport): string {
  const { since, until, policy, tenant } = report.filter;
  const parts = [
    `window: ${since ? esc(since) : 'the beginning'} to ${until ? esc(until) : 'now'}`,
    ...(policy !== undefined ? [`policy ${code(policy)}`] : []),
    ...(tenant !== undefined ? [`tenant ${code(tenant)}`] : []),
    `grouped by ${esc(report.groupBy)}`,
    `generated ${esc(report.generatedAt)}`,
  ];
  return `<p class="meta">${parts.join(' · ')}</p>`;
}

const code = (text: string) => `<code>${esc(text)}</code>`;
const ms = (x: number) => `${Math.round(x)} ms`;

function interval(i: Interval): string {
  return `${percent(i.estimate)} <span class="ci">(95 % CI ${percent(i.low)} – ${percent(i.high)}, n = ${i.samples})</span>`;
}

/** Two tables of the same rows (all requests, then each group): routing and quality, then cost and latency. */
function summarySection(report: RoutingReport): string {
  const rows = [report.totals, ...report.groups];
  const speculative = rows.some((g) => g.speculative !== null);
  const bandit = rows.some((g) => g.bandit !== null);
  const quality: Column[] = [
    ['requests', (g) => String(g.requests), 'num'],
    ['routing accuracy', (g) => g.routingAccuracy
      ? `${percent(g.routingAccuracy.share)} <span class="ci">(${g.routingAccuracy.labelled} labelled, ${g.routingAccuracy.underRouted} under-routed)</span>`
      : '<span class="na">no labels</span>'],
    ['cost savings', (g) => `${percent(g.savingsShare)} <span class="ci">(${usd(g.costSavedUsd)} of ${usd(g.alwaysBestCostUsd)})</span>`],
    ['quality retention', (g) => (g.qualityRetention ? interval(g.qualityRetention) : '<span class="na">not measured</span>')],
    ['pass rate', (g) => percent(g.passRate), 'num'],
    ['escalation rate', (g) => percent(g.escalationRate), 'num'],
  ];
  const costs: Column[] = [
    ['cost', (g) => usd(g.costUsd), 'num'],
    ['cost / 1k requests', (g) => usd(g.costPer1kUsd), 'num'],
    ['judge cost', (g) => usd(g.judgeCostUsd), 'num'],
    ['shadow cost', (g) => usd(g.shadowCostUsd), 'num'],
    ['latency p50', (g) => ms(g.latencyMs.p50), 'num'],
    ['latency p95', (g) => ms(g.latencyMs.p95), 'num'],
    ['latency p99', (g) => ms(g.latencyMs.p99), 'num'],
    ...(speculative ? [['speculative', (g: GroupFigures) => (g.speculative
      ? `${g.speculative.raced} raced (${percent(g.speculative.racedShare)}), ${g.speculative.partnerCancelled} partners cancelled, ${usd(g.speculative.cancelledCostUsd)} cancelled cost`
      : '—')] satisfies Column] : []),
    ...(bandit ? [['bandit', (g: GroupFigures) => (g.bandit
      ? `${g.bandit.requests} requests, mean propensity ${g.bandit.meanPropensity.toFixed(3)}, ${percent(g.bandit.exploredShare)} explored`
      : '—')] satisfies Column] : []),
  ];
  return `<section id="summary">
<h2>Summary</h2>
${groupTable('summary-table', report, quality)}
<h3>Cost and latency</h3>
${groupTable('cost-latency-table', report, costs)}
</section>`;
}

/** A column: its header, its cell's HTML (escaped where it holds data), and 'num' to right-align it. */
type Column = [string, (g: GroupFigures) => string, 'num'?];

function groupTable(id: string, report: RoutingReport, columns: Column[]): string {
  const row = (g: GroupFigures, label: string) =>
    `<tr><th scope="row">${label}</th>${columns.map(([, cell, num]) => `<td${num ? ' class="num"' : ''}>${cell(g)}</td>`).join('')}</tr>`;
  return `<div class="scroll"><table id="${id}">
<thead><tr><th scope="col">${esc(report.groupBy)}</th>${columns.map(([h]) => `<th scope="col">${esc(h)}</th>`).join('')}</tr></thead>
<tbody class="totals">${row(report.totals, 'all requests')}</tbody>
<tbody>${report.groups.map((g) => row(g, esc(g.key))).join('\n')}</tbody>
</table></div>`;
}

interface Figure {
  id: string;
  title: string;
  caption: string;
  /** Said instead of the chart when there is nothing to draw. */
  missing: string;
  present: boolean;
  note?: string;
}

function chartsSection(charts: ReportCharts): string {
  const cq = charts.costQuality;
  const notMeasured = cq?.notMeasured ?? [];
  const figures: Figure[] = [
    {
      id: 'chart-cost-quality',
      title: 'Cost and quality per strategy',
      caption: 'Cost per 1k requests against quality retention (routed score ÷ always-best score, from shadow samples), beside the always-best and oracle points.',
      missing: cq && cq.series.length === 0 ? 'No point has a measured quality retention, so there is nothing to place on this chart.' : 'No strategy to compare.',
      present: !!cq && cq.series.length > 0,
      ...(notMeasured.length > 0 ? {
        note: `Quality not measured (no shadow samples), so not placed on the chart: ${notMeasured.map((p) => `${code(p.label)} at ${usd(p.costPer1kUsd)} per 1k requests`).join('; ')}.`,
      } : {}),
    },
    {
      id: 'chart-model-mix',
      title: 'Model mix over time',
      caption: 'Share of each period’s requests answered by each model (the final model, after any escalation).',
      missing: 'No timeline to draw.',
      present: charts.modelMix !== null,
    },
    {
      id: 'chart-escalation-savings',
      title: 'Escalation rate and cost savings over time',
      caption: 'Share of requests escalated, and cost saved against always-best on the same tokens, per period.',
      missing: 'No timeline to draw.',
      present: charts.escalationSavings !== null,
    },
    {
      id: 'chart-latency',
      title: 'Latency distribution',
      caption: 'Requests by model time (their calls one after another, a raced pair counted once), in buckets up to each bound.',
      missing: 'No latency was recorded.',
      present: charts.latency !== null,
    },
  ];
  const figure = (f: Figure) => `<figure id="${f.id}-figure">
<h3>${f.title}</h3>
${f.present ? `<div class="chart"><canvas id="${f.id}" role="img" aria-label="${esc(f.title)}"></canvas></div>` : `<p class="na">${f.missing}</p>`}
<figcaption>${f.caption}</figcaption>
${f.note ? `<p class="note">${f.note}</p>` : ''}
</figure>`;
  return `<section id="charts">
<h2>Charts</h2>
<noscript><p class="na">The charts need JavaScript; the tables carry the same figures.</p></noscript>
<div class="figures">
${figures.map(figure).join('\n')}
</div>
</section>`;
}

/** Only an http(s) address becomes a link: a report's URL is data too. */
function webUiLink(r: ExpensiveRequest): string {
  if (r.webUiUrl !== undefined) {
    let protocol = '';
    try {
      protocol = new URL(r.webUiUrl).protocol;
    } catch {
      protocol = '';
    }
    if (protocol === 'http:' || protocol === 'https:') {
      return `<a href="${esc(r.webUiUrl)}" title="Open the run in the Temporal Web UI">${esc(r.workflowId)}</a>`;
    }
  }
  return esc(r.workflowId);
}

function expensiveSection(expensive: ExpensiveRequest[]): string {
  if (expensive.length === 0) return `<section id="expensive"><h2>Most expensive requests</h2><p class="na">None.</p></section>`;
  const rows = expensive.map((r, i) => `<tr><td class="num">${i + 1}</td><td>${esc(r.requestId)}</td><td>${webUiLink(r)}</td><td>${esc(r.timestamp)}</td><td>${esc(r.finalModel)}</td><td>${r.escalated ? 'yes' : 'no'}</td><td class="num">${usd(r.costUsd)}</td></tr>`);
  return `<section id="expensive">
<h2>Most expensive requests</h2>
<div class="scroll"><table id="expensive-table">
<thead><tr><th scope="col">#</th><th scope="col">request</th><th scope="col">run (Web UI)</th><th scope="col">time</th><th scope="col">final model</th><th scope="col">escalated</th><th scope="col">cost</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table></div>
</section>`;
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; color: #222; margin: 0 auto; padding: 1rem 1.5rem; max-width: 1200px; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 1.5rem 0 .5rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1rem; margin: 0 0 .5rem; }
section > h3 { margin-top: 1.25rem; }
.meta, figcaption, .note, .ci { color: #555; }
.ci { font-size: .85em; white-space: nowrap; }
.na { color: #777; font-style: italic; }
.empty { font-size: 1.1rem; padding: 1rem; background: #f4f4f4; border-radius: 4px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: .3rem .5rem; border-bottom: 1px solid #e4e4e4; text-align: left; vertical-align: top; }
thead th { background: #f4f4f4; font-weight: 600; }
tbody.totals th, tbody.totals td { font-weight: 600; background: #fafafa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 1.5rem; }
figure { margin: 0; }
.chart { position: relative; height: 320px; }
a { color: #1f5fa8; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  .scroll { overflow: visible; }
  .figures { display: block; }
  figure { break-inside: avoid; margin-bottom: 1rem; }
  .chart { height: 260px; }
  a { color: inherit; }
}
`;
