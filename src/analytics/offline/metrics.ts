import { routingMetrics, type RequestOutcome } from '../metrics';
import type { EvalRow } from './dataset';
import type { EscalationPlan } from '../../routing/plan';
import type { SimulatedRequest } from './simulate';

/*
 * Offline metrics. The seed's four (routing accuracy, cost savings, quality retention, escalation rate) come from
 * src/analytics/metrics.ts routingMetrics, fed with ground truth from the recorded outcomes; the field's curve
 * metrics (RouteLLM's APGR and CPT, RouterBench's AIQ) are defined here.
 */

export interface OfflineMetrics {
  routingAccuracy: number;
  /** The first choice failed (share of the requests routing accuracy counts). */
  underRouting: number;
  /** The first choice passed, but a cheaper tier had a passing model. */
  overRouting: number;
  costSavings: number;
  qualityRetention: number;
  escalationRate: number;
  /** Mean cost per request × 1000 (USD per 1,000 requests). */
  costPer1k: number;
  /** RouteLLM's APGR over the swept curve; null without a curve or with more than two models (undefined there). */
  apgr: number | null;
  /** RouterBench's AIQ over the swept curve; null without a curve spanning a cost range. */
  aiq: number | null;
}

/** One run of a strategy over the rows, summarised. */
export interface RunSummary {
  n: number;
  /** Mean true quality of the kept answers. */
  quality: number;
  /** Mean cost per request (USD): model calls plus judgements. */
  cost: number;
  costPer1k: number;
  routingAccuracy: number;
  underRouting: number;
  overRouting: number;
  /** Requests counted by routingAccuracy (some model passes). */
  labelledRequests: number;
  costSavings: number;
  qualityRetention: number;
  escalationRate: number;
  /** Share of requests on which the best model was called (first choice or escalation): RouteLLM's strong-call share. */
  strongCallShare: number;
  /** Share of requests whose first choice truly passes. */
  firstPassRate: number;
  /** Share of requests whose kept answer truly passes. */
  passRate: number;
  /** How many requests each model was routed to first. */
  firstChoices: Record<string, number>;
}

/** The seed's per-request outcome, from ground truth: recorded qualities decide "passes", not the judge. */
export function requestOutcome(row: EvalRow, sim: SimulatedRequest, plan: EscalationPlan): RequestOutcome {
  const first = sim.attempts[0];
  if (!first) throw new Error(`no attempt for row "${row.rowId}"`);
  const tierOf = (id: string) => {
    const rung = plan.ladder.find((r) => r.id === id);
    if (!rung) throw new Error(`model "${id}" is not on the evaluation ladder`);
    return rung.tier;
  };
  let cheapestPassingTier: number | undefined;
  for (const rung of plan.ladder) {
    const o = row.outcomes[rung.id];
    if (o && o.quality >= plan.gateThreshold && (cheapestPassingTier === undefined || rung.tier < cheapestPassingTier)) cheapestPassingTier = rung.tier;
  }
  const best = row.outcomes[plan.bestModel];
  if (!best) throw new Error(`row "${row.rowId}" has no outcome for the best model "${plan.bestModel}"`);
  return {
    firstTier: tierOf(first.model),
    firstPassed: first.quality >= plan.gateThreshold,
    cheapestPassingTier,
    escalated: sim.escalated,
    costUsd: sim.costUsd,
    quality: sim.quality,
    bestCostUsd: best.costUsd,
    bestQuality: best.quality,
  };
}

export function summarizeRun(rows: readonly EvalRow[], sims: readonly SimulatedRequest[], plan: EscalationPlan): RunSummary {
  if (rows.length !== sims.length) throw new Error(`${rows.length} rows but ${sims.length} simulated requests`);
  const outcomes = rows.map((row, i) => requestOutcome(row, sims[i]!, plan));
  const m = routingMetrics(outcomes);
  const n = rows.length;
  const firstChoices: Record<string, number> = {};
  let strong = 0;
  let firstPass = 0;
  let pass = 0;
  let quality = 0;
  for (const sim of sims) {
    const first = sim.attempts[0]!;
    firstChoices[first.model] = (firstChoices[first.model] ?? 0) + 1;
    if (sim.attempts.some((a) => a.model === plan.bestModel)) strong += 1;
    if (first.truePass) firstPass += 1;
    if (sim.quality >= plan.gateThreshold) pass += 1;
    quality += sim.quality;
  }
  const cost = m.costUsd / n;
  return {
    n,
    quality: quality / n,
    cost,
    costPer1k: cost * 1000,
    routingAccuracy: m.routingAccuracy,
    underRouting: m.underRouting,
    overRouting: m.overRouting,
    labelledRequests: m.labelledRequests,
    costSavings: m.costSavings,
    qualityRetention: m.qualityRetention,
    escalationRate: m.escalationRate,
    strongCallShare: strong / n,
    firstPassRate: firstPass / n,
    passRate: pass / n,
    firstChoices,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Curves

/** A point of a swept router family. */
export interface CurvePoint {
  param: number;
  /** Mean quality. */
  quality: number;
  /** Mean cost per request (USD). */
  cost: number;
  /** Share of requests calling the strong (best) model, for APGR. */
  strongCallShare?: number;
}

function trapezoid(xs: readonly number[], ys: readonly number[]): number {
  let area = 0;
  for (let i = 1; i < xs.length; i++) area += ((xs[i]! - xs[i - 1]!) * (ys[i]! + ys[i - 1]!)) / 2;
  return area;
}

/** PGR = (q − q_weak) / (q_strong − q_weak). */
export function pgr(quality: number, weakQuality: number, strongQuality: number): number {
  return (quality - weakQuality) / (strongQuality - weakQuality);
}

/**
 * RouteLLM's APGR (routellm/evals/evaluate.py): the trapezoid area under PGR as a function of the share of calls to
 * the strong model, points sorted by that share, divided by the share range the points span:
 * (AUC − q_weak·Δ) / ((q_strong − q_weak)·Δ) with AUC = trapz(quality, share). When the sweep spans 0 %..100 % strong
 * calls (RouteLLM's quantile thresholds always do) this is exactly the area under PGR over 0..1.
 * Null when undefined: fewer than two distinct shares, or q_strong = q_weak.
 */
export function apgr(points: readonly { strongShare: number; quality: number }[], weakQuality: number, strongQuality: number): number | null {
  if (strongQuality === weakQuality || points.length < 2) return null;
  const sorted = [...points].sort((a, b) => a.strongShare - b.strongShare);
  const xs = sorted.map((p) => p.strongShare);
  const span = xs[xs.length - 1]! - xs[0]!;
  if (span <= 0) return null;
  return trapezoid(xs, sorted.map((p) => pgr(p.quality, weakQuality, strongQuality))) / span;
}

/**
 * CPT(level): the smallest strong-call share at which PGR reaches `level` (RouteLLM reports CPT(50 %) and CPT(80 %)),
 * reading the points as a piecewise-linear curve sorted by share. Null when the curve never reaches it.
 */
export function cpt(
  points: readonly { strongShare: number; quality: number }[],
  weakQuality: number,
  strongQuality: number,
  level = 0.5,
): number | null {
  if (strongQuality === weakQuality || points.length === 0) return null;
  const sorted = [...points]
    .sort((a, b) => a.strongShare - b.strongShare)
    .map((p) => ({ x: p.strongShare, y: pgr(p.quality, weakQuality, strongQuality) }));
  if (sorted[0]!.y >= level) return sorted[0]!.x;
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (b.y >= level && a.y < level) return a.x + ((level - a.y) / (b.y - a.y)) * (b.x - a.x);
  }
  return null;
}

export interface CostQuality {
  cost: number;
  quality: number;
}

/**
 * RouterBench's non-decreasing convex hull of a quality–cost curve: the upper convex hull from the cheapest point
 * (mixing any two operating points at random reaches every point on the segment between them), cut at the highest
 * quality (spending more never has to lose quality). Points at equal cost keep the best quality.
 */
export function nonDecreasingConvexHull<P extends CostQuality>(points: readonly P[]): P[] {
  const sorted = [...points].sort((a, b) => a.cost - b.cost || b.quality - a.quality);
  const unique = sorted.filter((p, i) => i === 0 || p.cost !== sorted[i - 1]!.cost);
  const hull: P[] = [];
  for (const p of unique) {
    // Pop the last point while it lies on or below the segment from the one before it to p (not a right turn).
    while (hull.length >= 2) {
      const a = hull[hull.length - 2]!;
      const b = hull[hull.length - 1]!;
      const cross = (b.cost - a.cost) * (p.quality - a.quality) - (b.quality - a.quality) * (p.cost - a.cost);
      if (cross >= 0) hull.pop();
      else break;
    }
    hull.push(p);
  }
  let top = 0;
  hull.forEach((p, i) => {
    if (p.quality > hull[top]!.quality) top = i;
  });
  return hull.slice(0, top + 1);
}

/** The hull's quality at a cost: 0 below its cheapest point (unreachable), linear between points, flat after the last. */
export function hullQualityAt(hull: readonly CostQuality[], cost: number): number {
  if (hull.length === 0 || cost < hull[0]!.cost) return 0;
  for (let i = 1; i < hull.length; i++) {
    const a = hull[i - 1]!;
    const b = hull[i]!;
    if (cost <= b.cost) return a.quality + ((cost - a.cost) / (b.cost - a.cost)) * (b.quality - a.quality);
  }
  return hull[hull.length - 1]!.quality;
}

/**
 * RouterBench's AIQ (Average Improvement in Quality): the area under the non-decreasing convex hull of the curve
 * over a cost range, divided by that range: AIQ = 1/(c_max − c_min) ∫ R̃(c) dc. Default range: the points' own
 * [min cost, max cost]; pass a shared range to compare routers (the hull counts 0 below its cheapest point and stays
 * flat past its last one, as RouterBench's evaluation/AIQ.py extends it). Null for an empty or zero-width range.
 */
export function aiq(points: readonly CostQuality[], costRange?: readonly [number, number]): number | null {
  if (points.length === 0) return null;
  const lo = costRange ? costRange[0] : Math.min(...points.map((p) => p.cost));
  const hi = costRange ? costRange[1] : Math.max(...points.map((p) => p.cost));
  if (!(hi > lo)) return null;
  const hull = nonDecreasingConvexHull(points);
  // Integrate the piecewise-linear R̃ over [lo, hi]: breakpoints are the hull's costs inside the range.
  const xs = [lo, ...hull.map((p) => p.cost).filter((c) => c > lo && c < hi), hi];
  const first = hull[0]!.cost;
  let area = 0;
  for (let i = 1; i < xs.length; i++) {
    const a = xs[i - 1]!;
    const b = xs[i]!;
    if (b <= first) continue; // R̃ = 0 below the cheapest point
    const from = Math.max(a, first);
    area += ((b - from) * (hullQualityAt(hull, from) + hullQualityAt(hull, b))) / 2;
  }
  return area / (hi - lo);
}

/**
 * The least mean cost at which a router family reaches a quality, on its non-decreasing convex hull (mixing two
 * operating points at random reaches any point between them, as RouterBench's AIQ assumes); null if never reached.
 */
export function costToReach(curve: readonly CostQuality[], quality: number): number | null {
  const hull = nonDecreasingConvexHull(curve.map(({ cost, quality: q }) => ({ cost, quality: q })));
  const top = hull[hull.length - 1];
  if (!top || top.quality < quality) return null;
  let lo = 0;
  let hi = top.cost;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (hullQualityAt(hull, mid) >= quality) hi = mid;
    else lo = mid;
  }
  return hi;
}
