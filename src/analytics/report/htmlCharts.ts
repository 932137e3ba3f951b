import type { CostQualityPoint, RoutingReport } from './model';

/**
 * The chart-ready series of a report page, computed here (typed, pure) so that the script in the page only hands
 * them to Chart.js. Shares become percentages; a chart without data is null and the page shows a note instead.
 */

const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
const KIND_STYLE: Record<CostQualityPoint['kind'], { title: string; color: string; pointStyle: string }> = {
  strategy: { title: 'Strategies', color: '#4e79a7', pointStyle: 'circle' },
  'always-best': { title: 'Always-best', color: '#e15759', pointStyle: 'rectRot' },
  oracle: { title: 'Oracle', color: '#59a14f', pointStyle: 'triangle' },
};

export interface ScatterSeries {
  label: string;
  color: string;
  pointStyle: string;
  /** x: cost per 1k requests (USD); y: quality retention (%). */
  points: { x: number; y: number; label: string }[];
}

export interface ReportCharts {
  costQuality: {
    series: ScatterSeries[];
    /** Points whose retention no shadow sample measured: on no y position, so listed apart. */
    notMeasured: { label: string; costPer1kUsd: number }[];
  } | null;
  modelMix: { labels: string[]; series: { label: string; color: string; percent: number[]; requests: number[] }[] } | null;
  escalationSavings: { labels: string[]; escalationPercent: number[]; savingsPercent: number[] } | null;
  latency: { labels: string[]; counts: number[] } | null;
}

export function reportCharts(report: RoutingReport): ReportCharts {
  return {
    costQuality: costQualityChart(report.costQuality),
    modelMix: modelMixChart(report),
    escalationSavings: report.timeline.length === 0 ? null : {
      labels: report.timeline.map((p) => p.bucket),
      escalationPercent: report.timeline.map((p) => p.escalationRate * 100),
      savingsPercent: report.timeline.map((p) => p.savingsShare * 100),
    },
    latency: latencyChart(report.latencyHistogram),
  };
}

function costQualityChart(points: CostQualityPoint[]): ReportCharts['costQuality'] {
  if (points.length === 0) return null;
  const series = (Object.keys(KIND_STYLE) as CostQualityPoint['kind'][])
    .map((kind) => ({
      label: KIND_STYLE[kind].title,
      color: KIND_STYLE[kind].color,
      pointStyle: KIND_STYLE[kind].pointStyle,
      points: points
        .filter((p) => p.kind === kind && p.qualityRetention !== null)
        .map((p) => ({ x: p.costPer1kUsd, y: p.qualityRetention! * 100, label: p.label })),
    }))
    .filter((s) => s.points.length > 0);
  const notMeasured = points.filter((p) => p.qualityRetention === null).map((p) => ({ label: p.label, costPer1kUsd: p.costPer1kUsd }));
  return { series, notMeasured };
}

/** Models ordered by how many requests they answered over the window, so the biggest share sits at the bottom. */
function modelMixChart(report: RoutingReport): ReportCharts['modelMix'] {
  if (report.timeline.length === 0) return null;
  const answered = new Map<string, number>();
  for (const p of report.timeline) {
    for (const [model, share] of Object.entries(p.modelMix)) answered.set(model, (answered.get(model) ?? 0) + share * p.requests);
  }
  const models = [...answered.keys()].sort((a, b) => answered.get(b)! - answered.get(a)! || a.localeCompare(b));
  return {
    labels: report.timeline.map((p) => p.bucket),
    series: models.map((model, i) => ({
      label: model,
      color: PALETTE[i % PALETTE.length]!,
      percent: report.timeline.map((p) => (p.modelMix[model] ?? 0) * 100),
      requests: report.timeline.map((p) => Math.round((p.modelMix[model] ?? 0) * p.requests)),
    })),
  };
}

/** Bucket i holds latencies up to boundsMs[i]; one extra count, when present, is the overflow past the last bound. */
function latencyChart(histogram: RoutingReport['latencyHistogram']): ReportCharts['latency'] {
  const { boundsMs, counts } = histogram;
  if (counts.length !== boundsMs.length && counts.length !== boundsMs.length + 1) {
    throw new Error(`latencyHistogram.counts: has ${counts.length} entries for ${boundsMs.length} bounds (boundsMs); it must have as many, or one more for the overflow bucket`);
  }
  boundsMs.forEach((b, i) => {
    if (i > 0 && !(b > boundsMs[i - 1]!)) throw new Error(`latencyHistogram.boundsMs: must ascend, but entry ${i} (${b}) does not exceed ${boundsMs[i - 1]}`);
  });
  if (counts.every((c) => c === 0)) return null;
  const labels = counts.map((_, i) => (i < boundsMs.length ? `≤ ${boundsMs[i]} ms` : boundsMs.length > 0 ? `> ${boundsMs[boundsMs.length - 1]} ms` : 'all'));
  return { labels, counts };
}
