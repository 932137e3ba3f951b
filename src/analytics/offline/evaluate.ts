import type { ModelSpec } from '../../domain/catalog';
import { escalationPlan, type EscalationPlan } from '../../routing/plan';
import type { RulesPolicy } from '../../routing/strategies/rules';
import { formatTable, percent } from '../table';
import {
  baselineRouters,
  blindMixingFrontier,
  blindMixingQualityAt,
  cheapestModelId,
  singleModelRouter,
  type Router,
  type RouterFamily,
  type SingleModelPoint,
} from './baselines';
import type { EvalRow } from './dataset';
import { aiq, apgr, cpt, type CurvePoint, type OfflineMetrics, type RunSummary, summarizeRun } from './metrics';
import { DEFAULT_JUDGE_COST_RATIO, runRequest, type GateSimulation, type SimulatedRequest } from './simulate';

/*
 * The offline evaluation harness: routers are plug-ins (a function from an evaluation row to a first choice), run
 * through the same simulate path (gate + escalation policy shared with the workflow), summarised with the seed's
 * metrics and the field's curve metrics, beside the baselines.
 */

export const DEFAULT_THRESHOLD = 0.95; // config/default-policy.json gate.threshold
export const DEFAULT_MAX_ESCALATIONS = 1;

export interface Progress {
  /** What is running: "strategy", "sweep", "baselines", "cv-train". */
  phase: string;
  /** Requests (or folds, for cv-train) done in this phase, and the phase's total. */
  done: number;
  total: number;
}
export type ProgressCallback = (progress: Progress) => void;

export interface RunOptions {
  /** The evaluation catalog (EvalDataset.catalog). */
  catalog: readonly ModelSpec[];
  /** Gate threshold: an answer passes when its recorded quality is at least this (default 0.95). */
  threshold?: number;
  /** Default 1. */
  maxEscalations?: number;
  /** The simulated gate; defaults: enabled, judgeError 0, judgeCostRatio 0.1, seed 0. */
  gate?: Partial<GateSimulation>;
  onProgress?: ProgressCallback;
}

export interface ResolvedRun {
  plan: EscalationPlan;
  gate: GateSimulation;
}

export function resolveRun(options: RunOptions): ResolvedRun {
  const plan = escalationPlan(options.catalog, {
    gateThreshold: options.threshold ?? DEFAULT_THRESHOLD,
    maxEscalations: options.maxEscalations ?? DEFAULT_MAX_ESCALATIONS,
  });
  const g = options.gate ?? {};
  const gate: GateSimulation = {
    enabled: g.enabled ?? true,
    judgeError: g.judgeError ?? 0,
    judgeCostRatio: g.judgeCostRatio ?? DEFAULT_JUDGE_COST_RATIO,
    seed: g.seed ?? 0,
    ...(g.judgeCostUsd !== undefined ? { judgeCostUsd: g.judgeCostUsd } : {}),
  };
  if (!(gate.judgeError >= 0 && gate.judgeError <= 1)) throw new Error(`judge error must be between 0 and 1, got ${gate.judgeError}`);
  if (!((gate.judgeCostRatio ?? 0) >= 0)) throw new Error(`judge cost ratio must be at least 0, got ${gate.judgeCostRatio}`);
  return { plan, gate };
}

const PROGRESS_EVERY = 500;

/** Runs a router over the rows; returns the per-request simulations and their summary. */
export function runStrategy(
  rows: readonly EvalRow[],
  router: Router,
  options: RunOptions,
  phase = 'strategy',
): { summary: RunSummary; sims: SimulatedRequest[] } {
  if (rows.length === 0) throw new Error('no rows to evaluate');
  const { plan, gate } = resolveRun(options);
  const models = new Set(plan.ladder.map((r) => r.id));
  const sims: SimulatedRequest[] = [];
  rows.forEach((row, i) => {
    const choice = router(row);
    if (!models.has(choice.model)) {
      throw new Error(`the router chose "${choice.model}" for row "${row.rowId}", which is not in the evaluation catalog (${[...models].join(', ')})`);
    }
    sims.push(runRequest(row, choice.model, plan, gate, choice.cascade));
    if (options.onProgress && ((i + 1) % PROGRESS_EVERY === 0 || i + 1 === rows.length)) options.onProgress({ phase, done: i + 1, total: rows.length });
  });
  return { summary: summarizeRun(rows, sims, plan), sims };
}

/** Sweeps a router family's knob: one curve point per parameter (mean quality and cost, strong-call share). */
export function sweep(rows: readonly EvalRow[], family: RouterFamily, params: readonly number[], options: RunOptions): CurvePoint[] {
  return params.map((param, k) => {
    const { summary } = runStrategy(rows, family(param), { ...options, onProgress: undefined });
    options.onProgress?.({ phase: 'sweep', done: k + 1, total: params.length });
    return { param, quality: summary.quality, cost: summary.cost, strongCallShare: summary.strongCallShare };
  });
}

/** Single-model points with no gate: the material of blind mixing. */
export function singleModelPoints(rows: readonly EvalRow[], options: RunOptions): SingleModelPoint[] {
  const noGate = { ...options, gate: { ...options.gate, enabled: false }, onProgress: undefined };
  return options.catalog.map((m) => {
    const { summary } = runStrategy(rows, singleModelRouter(m.id), noGate);
    return { model: m.id, cost: summary.cost, quality: summary.quality };
  });
}

export interface BaselineRunOptions extends RunOptions {
  /** Adds the rules strategy. */
  policy?: RulesPolicy;
  /** Seed of the random router (default: the gate seed). */
  randomSeed?: number | string;
  /** Only these baselines (names from baselineRouters); default all. */
  only?: readonly string[];
}

/** Runs every baseline router through the same simulate path (with the options' gate). */
export function runBaselines(rows: readonly EvalRow[], options: BaselineRunOptions): Record<string, RunSummary> {
  const { plan, gate } = resolveRun(options);
  const routers = baselineRouters(options.catalog, { threshold: plan.gateThreshold, seed: options.randomSeed ?? gate.seed, policy: options.policy });
  const names = Object.keys(routers).filter((n) => !options.only || options.only.includes(n));
  const out: Record<string, RunSummary> = {};
  names.forEach((name, k) => {
    out[name] = runStrategy(rows, routers[name]!, { ...options, onProgress: undefined }).summary;
    options.onProgress?.({ phase: 'baselines', done: k + 1, total: names.length });
  });
  return out;
}

/** The JSON report, exactly the shape `model-router eval --json` prints. */
export interface EvalReport {
  strategy: string;
  n: number;
  metrics: OfflineMetrics;
  curve: { param: number; quality: number; cost: number }[];
  baselines: Record<string, { quality: number; cost: number }>;
  /** RouteLLM's CPT(50 %): the least share of strong-model calls reaching half the quality gap (two-model data). */
  cpt50?: number;
}

export interface EvaluateOptions extends BaselineRunOptions {
  /** The strategy's name in the report. */
  strategy: string;
  /** Sweep this family over params for the curve, APGR and AIQ (the router itself is evaluated for the metrics). */
  family?: RouterFamily;
  params?: readonly number[];
  /** Include baselines (default true). */
  baselines?: boolean;
  /** Cost range for AIQ (default: the curve's own cost range, RouterBench's c_min..c_max). */
  aiqCostRange?: readonly [number, number];
}

/**
 * Evaluates one strategy: the seed's metrics and cost per 1k for `router`; with a family and params, the swept
 * curve with APGR (two-model catalogs only; null otherwise) and AIQ; and the baselines' mean quality and cost,
 * including blind mixing at the strategy's own mean cost.
 */
export function evaluateStrategy(rows: readonly EvalRow[], router: Router, options: EvaluateOptions): EvalReport {
  const { summary } = runStrategy(rows, router, options);
  const curvePoints = options.family && options.params && options.params.length > 0 ? sweep(rows, options.family, options.params, options) : [];
  const metrics: OfflineMetrics = {
    routingAccuracy: summary.routingAccuracy,
    underRouting: summary.underRouting,
    overRouting: summary.overRouting,
    costSavings: summary.costSavings,
    qualityRetention: summary.qualityRetention,
    escalationRate: summary.escalationRate,
    costPer1k: summary.costPer1k,
    apgr: null,
    aiq: curvePoints.length > 0 ? aiq(curvePoints, options.aiqCostRange) : null,
  };
  const baselines: Record<string, { quality: number; cost: number }> = {};
  const needSingles = options.baselines !== false || (curvePoints.length > 0 && options.catalog.length === 2);
  const singles = needSingles ? singleModelPoints(rows, options) : [];
  if (options.baselines !== false) {
    const runs = runBaselines(rows, options);
    for (const [name, run] of Object.entries(runs)) baselines[name] = { quality: run.quality, cost: run.cost };
    baselines['blind-mixing'] = { quality: blindMixingQualityAt(blindMixingFrontier(singles), summary.cost), cost: summary.cost };
  }
  let cpt50: number | null = null;
  if (curvePoints.length > 0 && options.catalog.length === 2) {
    // RouteLLM's pair: weak = the cheapest model, strong = the best; their qualities alone (no gate).
    const weak = singles.find((p) => p.model === cheapestModelId(options.catalog))!;
    const strong = singles.find((p) => p.model === resolveRun(options).plan.bestModel)!;
    const shares = curvePoints.map((p) => ({ strongShare: p.strongCallShare ?? 0, quality: p.quality }));
    metrics.apgr = apgr(shares, weak.quality, strong.quality);
    cpt50 = cpt(shares, weak.quality, strong.quality, 0.5);
  }
  return {
    strategy: options.strategy,
    n: rows.length,
    metrics,
    curve: curvePoints.map(({ param, quality, cost }) => ({ param, quality, cost })),
    baselines,
    ...(cpt50 !== null ? { cpt50 } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering

const per1k = (costPerRequest: number) => `$${(costPerRequest * 1000).toFixed(4)}`;
const num = (x: number | null, digits = 3) => (x === null ? 'n/a' : x.toFixed(digits));

/** The report as readable text tables: metrics, baselines (with retention and savings vs "best"), the curve. */
export function renderReport(report: EvalReport): string {
  const m = report.metrics;
  const out: string[] = [`strategy ${report.strategy} on ${report.n} requests`, ''];
  out.push(
    formatTable(
      ['routing accuracy', 'under-routing', 'over-routing', 'cost savings', 'quality retention', 'escalation rate', 'cost / 1k requests', 'APGR', 'AIQ'],
      [[percent(m.routingAccuracy), percent(m.underRouting), percent(m.overRouting), percent(m.costSavings), percent(m.qualityRetention), percent(m.escalationRate), `$${m.costPer1k.toFixed(4)}`, num(m.apgr), num(m.aiq, 4)]],
    ),
  );
  out.push('under-routing: the first choice failed; over-routing: it passed, but a cheaper tier had a passing model (with accuracy, they add up to 100 %)');
  if (m.apgr === null && report.curve.length > 0) out.push('APGR: not defined here (RouteLLM defines it for two-model data only)');
  if (report.cpt50 !== undefined) out.push(`CPT(50 %): ${percent(report.cpt50)} of calls to the strong model reach half the quality gap`);
  const names = Object.keys(report.baselines);
  if (names.length > 0) {
    const best = report.baselines.best;
    out.push('', 'baselines');
    out.push(
      formatTable(
        ['baseline', 'quality', 'cost / 1k requests', 'retention vs best', 'savings vs best'],
        names.map((name) => {
          const b = report.baselines[name]!;
          return [
            name,
            b.quality.toFixed(4),
            per1k(b.cost),
            best && best.quality > 0 ? percent(b.quality / best.quality) : 'n/a',
            best && best.cost > 0 ? percent(1 - b.cost / best.cost) : 'n/a',
          ];
        }),
      ),
    );
  }
  if (report.curve.length > 0) {
    out.push('', 'cost-quality curve');
    out.push(formatTable(['param', 'quality', 'cost / 1k requests'], report.curve.map((p) => [p.param, p.quality.toFixed(4), per1k(p.cost)])));
  }
  return out.join('\n');
}
