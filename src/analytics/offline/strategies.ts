import { extractFeatures } from '../../routing/features';
import { assignFolds, type FoldAssignment } from '../../routing/folds';
import { unitHash } from '../../routing/hash';
import { escalationLadder } from '../../routing/ladder';
import { seededRandom } from '../../routing/random';
import { cascadeProblem, definitionNamed, STRATEGIES, STRATEGY_NAMES, type RoutingPolicy } from '../../routing/strategies/registry';
import type { RulesPolicy } from '../../routing/strategies/rules';
import type { FitOptions, Fitted, HeldOutOptions, StrategyEnv, TrainingExample } from '../../routing/strategies/types';
import { labelsFromQualities } from '../../routing/strategies/classifier/train';
import { bestModelId, cheapestModelId, oracleRouter, randomRouter, singleModelRouter, type Router, type RouterFamily } from './baselines';
import type { EvalDataset, EvalRow } from './dataset';
import { DEFAULT_THRESHOLD } from './evaluate';
import { DEFAULT_JUDGE_COST_RATIO, type GateSimulation } from './simulate';

/*
 * The offline strategy table: every registered strategy, and the baselines, as a router over evaluation rows.
 * Learned strategies are cross-validated on one fold assignment (routing/folds.ts), so the classifier and kNN are
 * held out on the same folds; a trained artefact (`--model`) is applied as the route activity applies it.
 */

/** Routers that are not strategies: bounds and references for the evaluation. */
export const BASELINE_STRATEGIES = ['random', 'oracle', 'best', 'cheapest'] as const;
export const EVAL_STRATEGIES: readonly string[] = [...STRATEGY_NAMES, ...BASELINE_STRATEGIES];
/** The strategies `model-router train` fits. */
export const TRAINED_STRATEGIES: readonly string[] = STRATEGIES.filter((s) => 'fit' in s).map((s) => s.name);

/** λ values tried for curves and operating points: 0 (always the best model), then geometric from 0.005 to 20. */
export const LAMBDA_GRID = [0, ...Array.from({ length: 37 }, (_, i) => Number((0.005 * 1.26 ** i).toPrecision(3)))];
const MIX_GRID = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

export interface OfflineStrategyOptions {
  gate: GateSimulation;
  maxEscalations: number;
  folds: number;
  seed: number;
  /** kNN's neighbours. */
  k: number;
  /** The knob for the reported metrics (the curve sweeps LAMBDA_GRID). */
  lambda?: number;
  /** A trained artefact to apply instead of cross-validating (in-sample if these rows trained it). */
  model?: string;
  /** How a failed first choice escalates (default "ladder"); "cascade" needs the classifier. */
  escalation?: 'ladder' | 'cascade';
  /** The knob in money for the reported metrics, instead of λ (the curve still sweeps λ). */
  willingnessToPayUsd?: number;
  /** The rules strategy's policy (config/default-policy.json by default). */
  rulesPolicy: RulesPolicy;
  env: StrategyEnv;
}

export interface OfflineStrategy {
  router: Router;
  /** A knob swept for the cost-quality curve (λ, or the strong-call probability of random mixing). */
  family?: RouterFamily;
  params?: readonly number[];
  note: string;
}

/** The request ids' folds: every cross-validated strategy of a run uses this one assignment. */
export function evaluationFolds(rows: readonly EvalRow[], folds: number, seed: number): FoldAssignment {
  return assignFolds(rows.map((r) => r.request.requestId), folds, seed);
}

export function trainingExamples(rows: readonly EvalRow[], passThreshold: number): TrainingExample[] {
  return rows.map((row) => ({
    request: row.request,
    passes: labelsFromQualities(row.outcomes, passThreshold),
    qualities: Object.fromEntries(Object.entries(row.outcomes).map(([id, o]) => [id, o?.quality])),
  }));
}

/** A learned strategy fitted on the rows, held out by fold (each row routed by a fit that never saw it). */
export function fitHeldOut(
  name: string,
  dataset: EvalDataset,
  options: Pick<OfflineStrategyOptions, 'folds' | 'seed' | 'k' | 'gate'> & Partial<Pick<FitOptions, 'createdAt' | 'trainingData' | 'onProgress'>>,
): Fitted {
  const definition = definitionNamed(name);
  if (!definition.fit) throw new Error(`strategy "${name}" is not trained on labelled outcomes`);
  return definition.fit(trainingExamples(dataset.rows, DEFAULT_THRESHOLD), evaluationFolds(dataset.rows, options.folds, options.seed), escalationLadder(dataset.catalog), {
    createdAt: options.createdAt ?? new Date(0).toISOString(),
    passThreshold: DEFAULT_THRESHOLD,
    judgeCostRatio: options.gate.judgeCostRatio ?? DEFAULT_JUDGE_COST_RATIO,
    trainingData: options.trainingData ?? [],
    seed: options.seed,
    k: options.k,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
}

// One cross-validated fit per strategy, dataset and fold settings: an eval that sets the ladder or kNN beside a
// strategy, or the same strategy under another escalation, does not refit it.
const fits = new WeakMap<EvalDataset, Map<string, Fitted>>();
function heldOutFit(name: string, dataset: EvalDataset, options: OfflineStrategyOptions): Fitted {
  const key = [name, options.folds, options.seed, options.k, options.gate.judgeCostRatio ?? DEFAULT_JUDGE_COST_RATIO].join('|');
  const byKey = fits.get(dataset) ?? new Map<string, Fitted>();
  fits.set(dataset, byKey);
  const fitted = byKey.get(key) ?? fitHeldOut(name, dataset, options);
  byKey.set(key, fitted);
  return fitted;
}

/** Held-out choices as a λ family over the rows (with the cascade's plan on each when options.cascade). */
export function heldOutFamily(fitted: Fitted, rows: readonly EvalRow[], options: HeldOutOptions = {}): RouterFamily {
  const index = new Map(rows.map((r, i) => [r.rowId, i]));
  return (lambda) => (row) => {
    const i = index.get(row.rowId);
    if (i === undefined) throw new Error(`row "${row.rowId}" was not part of the cross-validation`);
    return fitted.heldOut.choose(i, lambda, options);
  };
}

/** A policy's strategy as a router over rows, deciding exactly as the route activity does. */
export function policyRouter(policy: RoutingPolicy, env: StrategyEnv, seed: number | string = 0): Router {
  const strategy = definitionNamed(policy.strategy).create(policy, env);
  return (row) => {
    const random = seededRandom(Math.floor(unitHash('route', seed, row.request.requestId) * 2 ** 32));
    const context = { request: row.request, features: extractFeatures(row.request), random };
    const decision = strategy.decide(context);
    const cascade = policy.escalation === 'cascade' ? strategy.cascade?.(context) : undefined;
    if (policy.escalation === 'cascade' && !cascade) throw new Error(`escalation: ${cascadeProblem(policy.strategy) ?? 'no cascade'}`);
    return { model: decision.model, confidence: decision.confidence, ...(cascade && { cascade }) };
  };
}

/** Random mixing of the cheapest and the best model: the strong model with probability p (RouteLLM's random router). */
function randomMix(dataset: EvalDataset, seed: number): RouterFamily {
  const weak = cheapestModelId(dataset.catalog);
  const strong = bestModelId(dataset.catalog);
  return (p) => (row) => ({ model: unitHash('mix', seed, row.rowId) < p ? strong : weak });
}

const POLICY_BASE = (options: Pick<OfflineStrategyOptions, 'maxEscalations' | 'escalation' | 'willingnessToPayUsd'>) => ({
  id: 'eval',
  version: 'eval',
  gate: { threshold: DEFAULT_THRESHOLD },
  maxEscalations: options.maxEscalations,
  storePrompts: 'none' as const,
  quickSteps: 'local' as const,
  escalation: options.escalation ?? 'ladder',
  ...(options.willingnessToPayUsd !== undefined ? { willingnessToPayUsd: options.willingnessToPayUsd } : {}),
});

/** The strategy (or baseline) named `name`, as the offline harness runs it. */
export function offlineStrategy(name: string, dataset: EvalDataset, options: OfflineStrategyOptions): OfflineStrategy {
  const cascadeIssue = options.escalation === 'cascade' ? cascadeProblem(name) : undefined;
  if (cascadeIssue) throw new Error(`--escalation: ${cascadeIssue}`);
  switch (name) {
    case 'oracle':
      return { router: oracleRouter(DEFAULT_THRESHOLD), note: 'per-prompt oracle: the cheapest model that passes (an upper bound, not a router)' };
    case 'best':
      return { router: singleModelRouter(bestModelId(dataset.catalog)), note: 'always the best model' };
    case 'cheapest':
      return { router: singleModelRouter(cheapestModelId(dataset.catalog)), note: 'always the cheapest model' };
    case 'random':
      return { router: randomRouter(dataset.catalog.map((m) => m.id), options.seed), family: randomMix(dataset, options.seed), params: MIX_GRID, note: 'random: uniform over models; curve = random mixing of cheapest and best by strong-call probability' };
    case 'rules':
      return { router: policyRouter(options.rulesPolicy, options.env), note: `rules: policy "${options.rulesPolicy.id}" version ${options.rulesPolicy.version}` };
  }
  const definition = definitionNamed(name);
  const judgeCostRatio = options.gate.judgeCostRatio ?? DEFAULT_JUDGE_COST_RATIO;
  if (options.model) {
    if (!definition.artefactPolicy) throw new Error(`strategy "${name}" routes without an artefact: --model does not apply`);
    const artefactPolicy = definition.artefactPolicy;
    const family: RouterFamily = (lambda) => policyRouter(artefactPolicy(POLICY_BASE(options), options.model!, { lambda, judgeCostRatio }), options.env);
    const router = policyRouter(artefactPolicy(POLICY_BASE(options), options.model, { ...(options.lambda !== undefined ? { lambda: options.lambda } : {}), judgeCostRatio }), options.env);
    return { router, family, params: LAMBDA_GRID, note: `${name} ${options.model} (in-sample if these rows trained it); metrics at ${options.lambda !== undefined ? `λ=${options.lambda}` : "the artefact's operating point"}, curve over λ` };
  }
  if (!definition.fit) throw new Error(`strategy "${name}" has no offline evaluation here`);
  const fitted = heldOutFit(name, dataset, options);
  const cascade = options.escalation === 'cascade';
  const family = heldOutFamily(fitted, dataset.rows, { cascade });
  const lambda = options.lambda ?? 1;
  const w = options.willingnessToPayUsd;
  if (w !== undefined) {
    const router = heldOutFamily(fitted, dataset.rows, { cascade, willingnessToPayUsd: w })(lambda);
    return { router, family, params: LAMBDA_GRID, note: `${name}, ${options.folds}-fold cross-validated; metrics at willingnessToPayUsd=${w} (λ per request = (ĉ_best + g)/(100·W)), curve over λ` };
  }
  const what = name === 'knn' ? `kNN (k=${options.k}) on the same text features` : name;
  return { router: family(lambda), family, params: LAMBDA_GRID, note: `${what}, ${options.folds}-fold cross-validated (each request routed by a model trained without it); metrics at λ=${lambda}, curve over λ` };
}
