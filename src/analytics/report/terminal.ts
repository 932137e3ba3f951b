/** The routing report as text for a terminal: one table of groups, then the totals and what they rest on. */
import { formatTable, percent } from '../table';
import type { GroupFigures, RoutingReport } from './model';

const money = (usd: number): string => `$${usd < 0.01 ? usd.toFixed(5) : usd.toFixed(3)}`;
const ms = (x: number): string => `${Math.round(x)}`;

function retention(g: GroupFigures): string {
  const r = g.qualityRetention;
  return r ? `${percent(r.estimate)} [${percent(r.low)}, ${percent(r.high)}] n=${r.samples}` : '—';
}

function accuracy(g: GroupFigures): string {
  return g.routingAccuracy ? `${percent(g.routingAccuracy.share)} of ${g.routingAccuracy.labelled}` : '—';
}

function topModels(mix: Record<string, number>): string {
  const entries = Object.entries(mix);
  const shown = entries.slice(0, 3).map(([model, s]) => `${model} ${Math.round(s * 100)}%`);
  return entries.length > 3 ? `${shown.join(', ')}, +${entries.length - 3}` : shown.join(', ');
}

const HEADER = ['group', 'requests', 'accuracy', 'savings', 'retention (95 % CI)', 'escalated', 'cost/1k', 'judge $', 'p50 ms', 'p95 ms', 'p99 ms', 'models'];

function row(g: GroupFigures): (string | number)[] {
  return [g.key, g.requests, accuracy(g), percent(g.savingsShare), retention(g), percent(g.escalationRate), money(g.costPer1kUsd), money(g.judgeCostUsd), ms(g.latencyMs.p50), ms(g.latencyMs.p95), ms(g.latencyMs.p99), topModels(g.modelMix)];
}

export function formatReport(report: RoutingReport, source: string): string {
  const { totals } = report;
  const window = [report.filter.since && `since ${report.filter.since}`, report.filter.until && `until ${report.filter.until}`, report.filter.policy && `policy ${report.filter.policy}`, report.filter.tenant && `tenant ${report.filter.tenant}`]
    .filter(Boolean)
    .join(', ');
  const lines = [`Routing report: ${source}${window ? ` (${window})` : ''}, by ${report.groupBy}`, ''];
  lines.push(formatTable(HEADER, [...report.groups.map(row), row(totals)]));
  lines.push('');
  lines.push(`cost ${money(totals.costUsd)} vs always-best ${money(totals.alwaysBestCostUsd)} on the same tokens: saved ${money(totals.costSavedUsd)} (${percent(totals.savingsShare)}); gate pass rate ${percent(totals.passRate)}`);
  lines.push(
    totals.routingAccuracy
      ? `routing accuracy: first choice adequate on ${percent(totals.routingAccuracy.share)} of ${totals.routingAccuracy.labelled} judged requests (${totals.routingAccuracy.underRouted} under-routed); over-routing is not observable online`
      : 'routing accuracy: no request carries a gate verdict on its first choice',
  );
  lines.push(
    totals.qualityRetention
      ? `quality retention vs always-best (shadow samples): ${retention(totals)}; shadow cost ${money(totals.shadowCostUsd)}, apart from the routed cost`
      : 'quality retention vs always-best: no shadow samples (set shadow.sampleRate in a policy to measure it)',
  );
  if (totals.speculative) {
    const s = totals.speculative;
    lines.push(`speculative: ${s.raced} raced (${percent(s.racedShare)}), ${s.partnerCancelled} partners cancelled, costing ${money(s.cancelledCostUsd)}`);
  }
  if (totals.bandit) lines.push(`bandit: ${totals.bandit.requests} requests, mean propensity ${totals.bandit.meanPropensity.toFixed(3)}, ${percent(totals.bandit.exploredShare)} exploring`);
  if (report.expensive.length > 0) {
    lines.push('', 'most expensive requests:');
    for (const e of report.expensive.slice(0, 5)) lines.push(`  ${money(e.costUsd)}  ${e.requestId}  ${e.finalModel}${e.escalated ? ' (escalated)' : ''}${e.webUiUrl ? `  ${e.webUiUrl}` : ''}`);
  }
  return lines.join('\n');
}
