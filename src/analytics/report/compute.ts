/**
 * The routing report from decision-log rows: pure arithmetic over what the store read, so every figure can be
 * checked by hand on a made-up log. Online labels are partial — see routingAccuracy in model.ts.
 */
import type { ShadowSample } from '../../domain/results';
import { percentile } from '../percentile';
import type { CostQualityPoint, ExpensiveRequest, GroupBy, GroupFigures, ReportFilter, ReportRequest, RoutingReport, TimelinePoint } from './model';
import { estimateRetention } from './shadow';

export interface ReportOptions {
  groupBy: GroupBy;
  filter: ReportFilter;
  /** Links the most expensive requests to their runs, e.g. { base: 'http://localhost:8233', namespace: 'default' }. */
  webUi?: { base: string; namespace: string };
  /** How many of the most expensive requests to list. */
  expensive?: number;
  now?: Date;
}

const sum = (values: readonly number[]): number => values.reduce((s, v) => s + v, 0);
const share = (part: number, whole: number): number => (whole > 0 ? part / whole : 0);

/** A choice made with less than an even chance is the bandit exploring rather than exploiting. */
const EXPLORED_BELOW_PROPENSITY = 0.5;

function keyOf(request: ReportRequest, groupBy: GroupBy): string {
  switch (groupBy) {
    case 'strategy':
      return request.strategy;
    case 'policy':
      return request.policyId;
    case 'tenant':
      return request.tenant;
    case 'model':
      return request.finalModel;
    case 'day':
      return request.timestamp.slice(0, 10);
  }
}

function mixOf(requests: readonly ReportRequest[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const r of requests) counts.set(r.finalModel, (counts.get(r.finalModel) ?? 0) + 1);
  return Object.fromEntries([...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([model, n]) => [model, n / requests.length]));
}

/**
 * Was the first choice adequate? Only when the gate judged it (a failed or cancelled call says nothing about
 * quality): it passed, and no shadow sample scored the best model's answer above it.
 */
function firstChoiceLabel(request: ReportRequest, shadow: ShadowSample | undefined): 'adequate' | 'under-routed' | undefined {
  const first = request.attempts.find((a) => a.cause === 'routed');
  if (!first || first.passed === null) return undefined;
  if (!first.passed) return 'under-routed';
  if (shadow && shadow.routedModel === first.model && shadow.bestScore > shadow.routedScore) return 'under-routed';
  return 'adequate';
}

export function figuresOf(key: string, requests: readonly ReportRequest[], shadows: ReadonlyMap<string, ShadowSample>): GroupFigures {
  const n = requests.length;
  const costUsd = sum(requests.map((r) => r.costUsd));
  const costSavedUsd = sum(requests.map((r) => r.costSavedUsd));
  const alwaysBestCostUsd = costUsd + costSavedUsd;
  const latencies = requests.map((r) => r.latencyMs);

  const labels = requests.map((r) => firstChoiceLabel(r, shadows.get(r.requestId))).filter((l) => l !== undefined);
  const underRouted = labels.filter((l) => l === 'under-routed').length;

  const samples = requests.map((r) => shadows.get(r.requestId)).filter((s): s is ShadowSample => s !== undefined);
  const raced = requests.filter((r) => r.raced);
  const cancelled = raced.flatMap((r) => r.attempts.filter((a) => a.cause === 'speculative' && a.status === 'cancelled'));
  const bandit = requests.filter((r) => r.strategy === 'bandit');

  return {
    key,
    requests: n,
    routingAccuracy: labels.length > 0 ? { share: (labels.length - underRouted) / labels.length, labelled: labels.length, underRouted } : null,
    costUsd,
    alwaysBestCostUsd,
    costSavedUsd,
    savingsShare: share(costSavedUsd, alwaysBestCostUsd),
    costPer1kUsd: n > 0 ? (costUsd / n) * 1000 : 0,
    judgeCostUsd: sum(requests.map((r) => r.judgeCostUsd)),
    passRate: share(requests.filter((r) => r.passed).length, n),
    escalationRate: share(requests.filter((r) => r.escalated).length, n),
    modelMix: n > 0 ? mixOf(requests) : {},
    latencyMs: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99) },
    qualityRetention: estimateRetention(samples),
    shadowCostUsd: sum(samples.map((s) => s.costUsd)),
    speculative:
      raced.length > 0 ? { raced: raced.length, racedShare: raced.length / n, partnerCancelled: cancelled.length, cancelledCostUsd: sum(cancelled.map((a) => a.costUsd)) } : null,
    bandit:
      bandit.length > 0
        ? {
            requests: bandit.length,
            meanPropensity: sum(bandit.map((r) => r.propensity)) / bandit.length,
            exploredShare: bandit.filter((r) => r.propensity < EXPLORED_BELOW_PROPENSITY).length / bandit.length,
          }
        : null,
  };
}

function groupsOf<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = groups.get(k);
    if (list) list.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/** By UTC day, hour or minute: the coarsest that gives the window more than one point (one point draws no line). */
function timelineOf(requests: readonly ReportRequest[]): TimelinePoint[] {
  // Prefix lengths of an ISO timestamp: YYYY-MM-DD, YYYY-MM-DDTHH, YYYY-MM-DDTHH:MM.
  const width = [10, 13, 16].find((w) => new Set(requests.map((r) => r.timestamp.slice(0, w))).size > 1) ?? 10;
  return [...groupsOf(requests, (r) => r.timestamp.slice(0, width))]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([bucket, list]) => {
      const cost = sum(list.map((r) => r.costUsd));
      const saved = sum(list.map((r) => r.costSavedUsd));
      return { bucket, requests: list.length, escalationRate: share(list.filter((r) => r.escalated).length, list.length), savingsShare: share(saved, cost + saved), modelMix: mixOf(list) };
    });
}

/** Doubling buckets from 125 ms up to the slowest request, so every request falls in one. */
function latencyHistogramOf(requests: readonly ReportRequest[]): RoutingReport['latencyHistogram'] {
  if (requests.length === 0) return { boundsMs: [], counts: [] };
  const slowest = Math.max(...requests.map((r) => r.latencyMs));
  const boundsMs = [125];
  while (boundsMs.at(-1)! < slowest) boundsMs.push(boundsMs.at(-1)! * 2);
  const counts = boundsMs.map(() => 0);
  for (const r of requests) counts[boundsMs.findIndex((b) => r.latencyMs <= b)]!++;
  return { boundsMs, counts };
}

/**
 * One point per strategy, always-best (its cost on the same tokens, quality 1 by definition), and the observed
 * oracle: each request at the cost of the cheapest answer seen to pass (or always-best's when none did), with
 * the better of the two shadow scores where a sample exists.
 */
function costQualityOf(requests: readonly ReportRequest[], shadows: ReadonlyMap<string, ShadowSample>): CostQualityPoint[] {
  const n = requests.length;
  if (n === 0) return [];
  const per1k = (usd: number) => (usd / n) * 1000;
  const points: CostQualityPoint[] = [...groupsOf(requests, (r) => r.strategy)].map(([strategy, list]) => ({
    label: strategy,
    kind: 'strategy',
    costPer1kUsd: (sum(list.map((r) => r.costUsd)) / list.length) * 1000,
    qualityRetention: figuresOf(strategy, list, shadows).qualityRetention?.estimate ?? null,
  }));
  points.push({ label: 'always-best', kind: 'always-best', costPer1kUsd: per1k(sum(requests.map((r) => r.costUsd + r.costSavedUsd))), qualityRetention: 1 });
  const oracleCost = sum(
    requests.map((r) => {
      const passing = r.attempts.filter((a) => a.passed === true).map((a) => a.costUsd);
      return passing.length > 0 ? Math.min(...passing) : r.costUsd + r.costSavedUsd;
    }),
  );
  const samples = requests.map((r) => shadows.get(r.requestId)).filter((s): s is ShadowSample => s !== undefined);
  const oracle = estimateRetention(samples.map((s) => ({ routedScore: Math.max(s.routedScore, s.bestScore), bestScore: s.bestScore })));
  points.push({ label: 'oracle (observed)', kind: 'oracle', costPer1kUsd: per1k(oracleCost), qualityRetention: oracle?.estimate ?? null });
  return points;
}

function expensiveOf(requests: readonly ReportRequest[], count: number, webUi: ReportOptions['webUi']): ExpensiveRequest[] {
  return [...requests]
    .sort((a, b) => b.costUsd - a.costUsd || a.requestId.localeCompare(b.requestId))
    .slice(0, count)
    .map((r) => ({
      requestId: r.requestId,
      workflowId: r.workflowId,
      timestamp: r.timestamp,
      costUsd: r.costUsd,
      finalModel: r.finalModel,
      escalated: r.escalated,
      ...(webUi && { webUiUrl: `${webUi.base.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(webUi.namespace)}/workflows/${encodeURIComponent(r.workflowId)}` }),
    }));
}

export function buildReport(requests: readonly ReportRequest[], shadowSamples: readonly ShadowSample[], options: ReportOptions): RoutingReport {
  // A sample counts only beside its request (a shadow of a request outside the window is not this window's).
  const ids = new Set(requests.map((r) => r.requestId));
  const shadows = new Map(shadowSamples.filter((s) => ids.has(s.requestId)).map((s) => [s.requestId, s]));
  const groups = [...groupsOf(requests, (r) => keyOf(r, options.groupBy))]
    .map(([key, list]) => figuresOf(key, list, shadows))
    .sort((a, b) => (options.groupBy === 'day' ? a.key.localeCompare(b.key) : b.requests - a.requests || a.key.localeCompare(b.key)));
  return {
    generatedAt: (options.now ?? new Date()).toISOString(),
    filter: options.filter,
    groupBy: options.groupBy,
    totals: figuresOf('all', requests, shadows),
    groups,
    timeline: timelineOf(requests),
    latencyHistogram: latencyHistogramOf(requests),
    costQuality: costQualityOf(requests, shadows),
    expensive: expensiveOf(requests, options.expensive ?? 10, options.webUi),
  };
}
