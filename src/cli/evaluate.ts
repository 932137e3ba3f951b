import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cheapestModelId, oracleRouter, randomRouter, rulesRouter, singleModelRouter, type Router, type RouterFamily } from '../analytics/offline/baselines';
import { loadEvalDataset, loadRulesPolicy, type EvalDataset } from '../analytics/offline/dataset';
import { DEFAULT_THRESHOLD, evaluateStrategy, renderReport, runStrategy, singleModelPoints, type EvalReport, type RunOptions } from '../analytics/offline/evaluate';
import { artefactFamily, classifierCatalog, knnCrossValidated, outOfFoldFamily, trainingExamples } from '../analytics/offline/learned';
import { hullQualityAt, nonDecreasingConvexHull, type RunSummary } from '../analytics/offline/metrics';
import { DEFAULT_JUDGE_COST_RATIO, simPlan, unitHash, type GateSimulation } from '../analytics/offline/simulate';
import { parseClassifierArtefactJson, assertArtefactMatchesCatalog, type ClassifierArtefact } from '../domain/classifierArtefact';
import type { RoutingPolicy } from '../domain/policy';
import { ValidationError } from '../domain/validation';
import { trainClassifier } from '../routing/classifier/train';
import { PROJECT_ROOT } from '../servers/binaries';
import { progressBar } from './progress';
import { formatTable, percent } from '../analytics/table';
import { runThroughTemporal } from './throughTemporal';
import { LAMBDA_GRID } from './train';

export const EVAL_STRATEGIES = ['rules', 'classifier', 'knn', 'random', 'oracle', 'best', 'cheapest'] as const;
export type EvalStrategy = (typeof EVAL_STRATEGIES)[number];

export interface EvalCommand {
  data: string[];
  /** models.json-format price table; default: the one beside (or above) the first data file. */
  prices?: string;
  strategy: EvalStrategy;
  model?: string;
  gate: GateSimulation;
  maxEscalations: number;
  lambda?: number;
  folds: number;
  seed: number;
  k: number;
  throughTemporal: boolean;
  json: boolean;
}

/** Retention levels at which the learned router's cost is compared with kNN's and blind mixing's. */
const RETENTION_LEVELS = [0.9, 0.92, 0.94, 0.95, 0.96, 0.98];
const MIX_GRID = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

function loadArtefact(path: string, dataset: EvalDataset): ClassifierArtefact {
  const artefact = parseClassifierArtefactJson(readFileSync(path, 'utf8'), `classifier artefact ${path}`);
  assertArtefactMatchesCatalog(artefact, dataset.catalog, `classifier artefact ${path}`);
  return artefact;
}

/** Random mixing of the cheapest and the best model: the strong model with probability p (RouteLLM's random router). */
function randomMix(dataset: EvalDataset, seed: number): RouterFamily {
  const weak = cheapestModelId(dataset.catalog);
  const strong = simPlan(dataset.catalog, { threshold: DEFAULT_THRESHOLD, maxEscalations: 0 }).bestModel;
  return (p) => (row) => ({ model: unitHash('mix', seed, row.rowId) < p ? strong : weak });
}

interface Strategy {
  router: Router;
  family?: RouterFamily;
  params?: number[];
  note: string;
}

function strategyFor(cmd: EvalCommand, dataset: EvalDataset): Strategy {
  const judgeCostRatio = cmd.gate.judgeCostRatio ?? DEFAULT_JUDGE_COST_RATIO;
  const learned = (family: RouterFamily, note: string, defaultLambda = 1): Strategy => ({
    router: family(cmd.lambda ?? defaultLambda),
    family,
    params: LAMBDA_GRID,
    note: `${note}; metrics at λ=${cmd.lambda ?? defaultLambda}, curve over λ`,
  });
  switch (cmd.strategy) {
    case 'rules':
      return { router: rulesRouter(loadRulesPolicy(join(PROJECT_ROOT, 'config', 'default-policy.json')), dataset.catalog), note: 'rules: config/default-policy.json' };
    case 'oracle':
      return { router: oracleRouter(DEFAULT_THRESHOLD), note: 'per-prompt oracle: the cheapest model that passes (an upper bound, not a router)' };
    case 'best':
      return { router: singleModelRouter(simPlan(dataset.catalog, { threshold: DEFAULT_THRESHOLD, maxEscalations: 0 }).bestModel), note: 'always the best model' };
    case 'cheapest':
      return { router: singleModelRouter(cheapestModelId(dataset.catalog)), note: 'always the cheapest model' };
    case 'random':
      return { router: randomRouter(dataset.catalog.map((m) => m.id), cmd.seed), family: randomMix(dataset, cmd.seed), params: MIX_GRID, note: 'random: uniform over models; curve = random mixing of cheapest and best by strong-call probability' };
    case 'knn':
      return learned(knnCrossValidated(dataset.rows, { k: cmd.k, folds: cmd.folds, seed: cmd.seed, passThreshold: DEFAULT_THRESHOLD, catalog: dataset.catalog, judgeCostRatio }), `kNN (k=${cmd.k}) on the same text features, ${cmd.folds}-fold cross-validated`);
    case 'classifier': {
      if (cmd.model) {
        const artefact = loadArtefact(cmd.model, dataset);
        return learned(artefactFamily(artefact, dataset.catalog, judgeCostRatio), `classifier ${cmd.model} (in-sample if these rows trained it)`, artefact.operatingPoint?.lambda ?? 1);
      }
      const { outOfFold } = trainClassifier(trainingExamples(dataset.rows, DEFAULT_THRESHOLD), {
        catalog: classifierCatalog(dataset.catalog),
        createdAt: new Date(0).toISOString(),
        folds: cmd.folds,
        seed: cmd.seed,
        passThreshold: DEFAULT_THRESHOLD,
      });
      return learned(outOfFoldFamily(dataset.rows, outOfFold, dataset.catalog, judgeCostRatio), `classifier, ${cmd.folds}-fold cross-validated (each request routed by a model trained without it)`);
    }
  }
}

/**
 * The least mean cost at which a router family reaches a quality, on its non-decreasing convex hull (mixing two
 * operating points at random reaches any point between them, as RouterBench's AIQ assumes); null if never reached.
 */
function costToReach(curve: readonly { quality: number; cost: number }[], quality: number): number | null {
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

const COMPARED_METRICS = ['routingAccuracy', 'costSavings', 'qualityRetention', 'escalationRate', 'costPer1k'] as const;
type ComparedMetrics = Pick<RunSummary, (typeof COMPARED_METRICS)[number]>;

export interface EvalOutput extends EvalReport {
  notes: string[];
  retentionLevels?: { retention: number; strategyCost: number | null; knnCost: number | null; blindMixingCost: number | null }[];
  throughTemporal?: { metrics: ComparedMetrics; maxAbsDifference: ComparedMetrics };
}

export async function runEval(cmd: EvalCommand): Promise<EvalOutput> {
  const dataset = loadEvalDataset(cmd.data, cmd.prices ? { prices: cmd.prices } : {});
  const strategy = strategyFor(cmd, dataset);
  const bar = cmd.json ? undefined : progressBar(cmd.strategy);
  const run: RunOptions = { catalog: dataset.catalog, threshold: DEFAULT_THRESHOLD, maxEscalations: cmd.maxEscalations, gate: cmd.gate, ...(bar ? { onProgress: (p) => bar(p.done, p.total) } : {}) };
  const report = evaluateStrategy(dataset.rows, strategy.router, {
    ...run,
    strategy: cmd.strategy,
    policy: loadRulesPolicy(join(PROJECT_ROOT, 'config', 'default-policy.json')),
    randomSeed: cmd.seed,
    ...(strategy.family ? { family: strategy.family, params: strategy.params ?? [] } : {}),
  });
  const output: EvalOutput = { ...report, notes: [strategy.note, ...dataset.notes, cmd.gate.enabled ? `gate: judge error ${cmd.gate.judgeError}, judge cost ${cmd.gate.judgeCostRatio ?? DEFAULT_JUDGE_COST_RATIO} × the cheapest call, max escalations ${cmd.maxEscalations}` : 'no gate: the first choice alone'] };

  if ((cmd.strategy === 'classifier' || cmd.strategy === 'knn') && strategy.family) {
    let knnCurve = report.curve;
    if (cmd.strategy === 'classifier') {
      // kNN on the same text features, same folds protocol and λ, beside the classifier.
      const knn = strategyFor({ ...cmd, strategy: 'knn' }, dataset);
      const knnReport = evaluateStrategy(dataset.rows, knn.router, { ...run, strategy: 'knn', baselines: false, family: knn.family!, params: LAMBDA_GRID, onProgress: undefined });
      const knnRun = runStrategy(dataset.rows, knn.router, { ...run, onProgress: undefined }).summary;
      output.baselines.knn = { quality: knnRun.quality, cost: knnRun.cost };
      knnCurve = knnReport.curve;
    }
    const bestQuality = report.baselines.best?.quality ?? 0;
    const singles = singleModelPoints(dataset.rows, run);
    output.retentionLevels = RETENTION_LEVELS.map((retention) => ({
      retention,
      strategyCost: costToReach(report.curve, retention * bestQuality),
      knnCost: costToReach(knnCurve, retention * bestQuality),
      blindMixingCost: costToReach(singles, retention * bestQuality),
    }));
  }

  if (cmd.throughTemporal) {
    const policy = throughTemporalPolicy(cmd);
    const temporal = await runThroughTemporal(dataset, { dataPaths: cmd.data, policy, gate: cmd.gate, onProgress: bar ? (d, t) => bar(d, t) : undefined });
    const fast = runStrategy(dataset.rows, strategy.router, { ...run, onProgress: undefined }).summary;
    output.throughTemporal = {
      metrics: Object.fromEntries(COMPARED_METRICS.map((k) => [k, temporal.summary[k]])) as ComparedMetrics,
      maxAbsDifference: Object.fromEntries(COMPARED_METRICS.map((k) => [k, Math.abs(temporal.summary[k] - fast[k])])) as ComparedMetrics,
    };
  }
  return output;
}

/** The workflow runs the same strategy as the fast path: only rules and a trained artefact exist as policies. */
function throughTemporalPolicy(cmd: EvalCommand): RoutingPolicy {
  const base = { id: 'eval', version: `eval-${cmd.strategy}`, gate: { threshold: DEFAULT_THRESHOLD }, maxEscalations: cmd.maxEscalations };
  if (cmd.strategy === 'rules') {
    const rules = loadRulesPolicy(join(PROJECT_ROOT, 'config', 'default-policy.json'));
    return { ...rules, ...base, strategy: 'rules' };
  }
  if (cmd.strategy === 'classifier' && cmd.model) {
    return { ...base, strategy: 'classifier', classifier: { artefactPath: cmd.model, judgeCostRatio: cmd.gate.judgeCostRatio ?? DEFAULT_JUDGE_COST_RATIO, ...(cmd.lambda !== undefined ? { lambda: cmd.lambda } : {}) } };
  }
  throw new ValidationError('command line', [
    { path: '--through-temporal', message: 'runs the workflow\'s strategies only: --strategy rules, or --strategy classifier with --model MODEL.json' },
  ]);
}

export function renderEval(output: EvalOutput): string {
  const lines = [renderReport(output), '', ...output.notes.map((n) => `note: ${n}`)];
  if (output.retentionLevels) {
    const usd = (x: number | null) => (x === null ? 'not reached' : `$${(x * 1000).toFixed(4)}`);
    lines.push('', 'cost per 1k requests to reach a quality retention (vs always-best)');
    lines.push(formatTable(['retention', output.strategy, 'kNN', 'blind mixing'], output.retentionLevels.map((l) => [percent(l.retention), usd(l.strategyCost), usd(l.knnCost), usd(l.blindMixingCost)])));
  }
  if (output.throughTemporal) {
    const t = output.throughTemporal;
    lines.push('', 'through real routeRequest workflows (replay provider, same simulated judge)');
    lines.push(formatTable(['metric', 'workflows', '|workflows − fast path|'], Object.entries(t.metrics).map(([k, v]) => [k, v.toFixed(6), t.maxAbsDifference[k as keyof ComparedMetrics].toExponential(2)])));
  }
  return lines.join('\n');
}
