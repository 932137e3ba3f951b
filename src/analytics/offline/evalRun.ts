import type { RoutingPolicy } from '../../routing/strategies/registry';
import type { RulesPolicy } from '../../routing/strategies/rules';
import { cascadeProblem, definitionNamed, STRATEGY_NAMES } from '../../routing/strategies/registry';
import type { StrategyEnv } from '../../routing/strategies/types';
import { ValidationError } from '../../domain/validation';
import { formatTable, percent } from '../table';
import { loadEvalDataset, type EvalDataset } from './dataset';
import { escalationLadder } from '../../routing/ladder';
import { DEFAULT_THRESHOLD, evaluateStrategy, renderReport, runStrategy, singleModelPoints, type EvalReport, type RunOptions } from './evaluate';
import { costToReach, type RunSummary } from './metrics';
import type { Speculative } from '../../domain/policy';
import { percentile } from '../percentile';
import { bestModelId, singleModelRouter, type Router } from './baselines';
import { callLatencyMs, JUDGE_LATENCY_MS } from './latency';
import { DEFAULT_JUDGE_COST_RATIO, type GateSimulation, type SimulatedRequest } from './simulate';
import { LAMBDA_GRID, offlineStrategy, type OfflineStrategyOptions } from './strategies';

/*
 * `model-router eval`: a strategy (or baseline) over recorded outcomes with the simulated gate, its metrics and
 * cost-quality curve beside the baselines, kNN beside a learned strategy, and optionally the same rows through real
 * workflows. The CLI parses the flags and prints what this returns.
 */

export interface EvalCommand {
  data: string[];
  /** models.json-format price table; default: the one beside (or above) the first data file. */
  prices?: string;
  strategy: string;
  model?: string;
  gate: GateSimulation;
  maxEscalations: number;
  /** How failed first choices escalate (default "ladder"). */
  escalation?: 'ladder' | 'cascade';
  /** Race a partner beside unsure first choices (the policy's speculative option); adds the latency comparison. */
  speculative?: Speculative;
  /** Dollars per point of pass probability: the knob in money, instead of λ. */
  willingnessToPayUsd?: number;
  lambda?: number;
  folds: number;
  seed: number;
  k: number;
  throughTemporal: boolean;
  /** The rules strategy's policy. */
  rulesPolicy: RulesPolicy;
  /** How strategies read their artefacts (the shell's file cache). */
  load: StrategyEnv['load'];
  onProgress?: (done: number, total: number) => void;
}

/** Retention levels at which the learned router's cost is compared with kNN's and blind mixing's. */
const RETENTION_LEVELS = [0.9, 0.92, 0.94, 0.95, 0.96, 0.98];
const GATED_RETENTION_LEVELS = [1, 1.02, 1.04, 1.05];

const COMPARED_METRICS = ['routingAccuracy', 'underRouting', 'overRouting', 'costSavings', 'qualityRetention', 'escalationRate', 'costPer1k'] as const;
type ComparedMetrics = Pick<RunSummary, (typeof COMPARED_METRICS)[number]>;

export interface EvalOutput extends EvalReport {
  notes: string[];
  /** ladderCost: the same strategy escalating by the ladder, beside a cascade. */
  retentionLevels?: { retention: number; strategyCost: number | null; ladderCost?: number | null; knnCost: number | null; blindMixingCost: number | null }[];
  throughTemporal?: { metrics: ComparedMetrics; maxAbsDifference: ComparedMetrics; workflowsPerSec: number };
  /** With --speculative-below: the same requests routed four ways, under the offline latency model (assumptions). */
  latency?: {
    rows: { routing: string; p50Ms: number; p95Ms: number; costPer1k: number; qualityRetention: number; escalationRate: number }[];
    /** The requests that raced: how many, and their p50 latency against their partner's alone (its call and a judgement). */
    triggered: { requests: number; share: number; p50Ms: number; partnerAloneP50Ms: number; ratio: number; byTask: Record<string, number> };
  };
}

function strategyOptions(cmd: EvalCommand, dataset: EvalDataset): OfflineStrategyOptions {
  return {
    gate: cmd.gate,
    maxEscalations: cmd.maxEscalations,
    folds: cmd.folds,
    seed: cmd.seed,
    k: cmd.k,
    rulesPolicy: cmd.rulesPolicy,
    env: { ladder: escalationLadder(dataset.catalog), load: cmd.load },
    ...(cmd.lambda !== undefined ? { lambda: cmd.lambda } : {}),
    ...(cmd.model ? { model: cmd.model } : {}),
    ...(cmd.escalation ? { escalation: cmd.escalation } : {}),
    ...(cmd.willingnessToPayUsd !== undefined ? { willingnessToPayUsd: cmd.willingnessToPayUsd } : {}),
  };
}

export async function runEval(cmd: EvalCommand): Promise<EvalOutput> {
  const dataset = loadEvalDataset(cmd.data, cmd.prices ? { prices: cmd.prices } : {});
  const strategy = offlineStrategy(cmd.strategy, dataset, strategyOptions(cmd, dataset));
  const bar = cmd.onProgress;
  const run: RunOptions = { catalog: dataset.catalog, threshold: DEFAULT_THRESHOLD, maxEscalations: cmd.maxEscalations, gate: cmd.gate, ...(bar ? { onProgress: (p) => bar(p.done, p.total) } : {}) };
  const report = evaluateStrategy(dataset.rows, strategy.router, {
    ...run,
    strategy: cmd.escalation === 'cascade' ? `${cmd.strategy}+cascade` : cmd.strategy,
    policy: cmd.rulesPolicy,
    randomSeed: cmd.seed,
    ...(strategy.family ? { family: strategy.family, params: strategy.params ?? [] } : {}),
  });
  const output: EvalOutput = { ...report, notes: [strategy.note, ...dataset.notes, cmd.gate.enabled ? `gate: judge error ${cmd.gate.judgeError}, judge cost ${cmd.gate.judgeCostRatio ?? DEFAULT_JUDGE_COST_RATIO} × the cheapest call, max escalations ${cmd.maxEscalations}` : 'no gate: the first choice alone'] };

  if (isLearned(cmd.strategy) && strategy.family) {
    // A comparison on the same folds and λ grid: its curve, and its run at the strategy's own knob as a baseline.
    const beside = (name: string, label: string, options: OfflineStrategyOptions) => {
      const other = offlineStrategy(name, dataset, options);
      const otherReport = evaluateStrategy(dataset.rows, other.router, { ...run, strategy: label, baselines: false, family: other.family!, params: LAMBDA_GRID, onProgress: undefined });
      const otherRun = runStrategy(dataset.rows, other.router, { ...run, onProgress: undefined }).summary;
      output.baselines[label] = { quality: otherRun.quality, cost: otherRun.cost };
      return otherReport.curve;
    };
    const { model: _unused, escalation: _cascade, ...ladderOnly } = strategyOptions(cmd, dataset);
    // kNN on the same text features beside the learned strategy; the ladder beside the cascade.
    const knnCurve = cmd.strategy === 'knn' && cmd.escalation !== 'cascade' ? report.curve : beside('knn', 'knn', ladderOnly);
    const ladderCurve = cmd.escalation === 'cascade' ? beside(cmd.strategy, `${cmd.strategy}+ladder`, { ...strategyOptions(cmd, dataset), escalation: 'ladder' }) : undefined;
    const bestQuality = report.baselines.best?.quality ?? 0;
    const singles = singleModelPoints(dataset.rows, run);
    // With the gate, an escalating router can keep a cheaper model's correct answer where the best model fails.
    const levels = cmd.gate.enabled ? [...RETENTION_LEVELS, ...GATED_RETENTION_LEVELS] : RETENTION_LEVELS;
    output.retentionLevels = levels.map((retention) => ({
      retention,
      strategyCost: costToReach(report.curve, retention * bestQuality),
      ...(ladderCurve ? { ladderCost: costToReach(ladderCurve, retention * bestQuality) } : {}),
      knnCost: costToReach(knnCurve, retention * bestQuality),
      blindMixingCost: costToReach(singles, retention * bestQuality),
    }));
  }

  if (cmd.speculative) output.latency = latencyComparison(cmd, dataset, run, report.baselines.best?.quality ?? 0);

  if (cmd.throughTemporal) {
    const policy = throughTemporalPolicy(cmd);
    // Loaded here: the fast path (and `model-router eval` without --through-temporal) loads no Temporal package.
    const { runThroughTemporal } = await import('./throughTemporal');
    const temporal = await runThroughTemporal(dataset, { dataPaths: cmd.data, policy, gate: cmd.gate, ...(bar ? { onProgress: bar } : {}) });
    const fast = runStrategy(dataset.rows, strategy.router, { ...run, onProgress: undefined }).summary;
    output.throughTemporal = {
      metrics: Object.fromEntries(COMPARED_METRICS.map((k) => [k, temporal.summary[k]])) as ComparedMetrics,
      maxAbsDifference: Object.fromEntries(COMPARED_METRICS.map((k) => [k, Math.abs(temporal.summary[k] - fast[k])])) as ComparedMetrics,
      workflowsPerSec: temporal.workflowsPerSec,
    };
  }
  return output;
}

/**
 * Sequential ladder, cascade (for a strategy that has one), speculative and always-best on the same requests with
 * the same first choices, and how the raced requests compare with their partner alone.
 */
function latencyComparison(cmd: EvalCommand, dataset: EvalDataset, run: RunOptions, bestQuality: number): NonNullable<EvalOutput['latency']> {
  const quiet = { ...run, onProgress: undefined };
  const routed = (escalation: 'ladder' | 'cascade') => offlineStrategy(cmd.strategy, dataset, { ...strategyOptions(cmd, dataset), escalation }).router;
  const cascades = cascadeProblem(cmd.strategy) === undefined;
  const own = cmd.escalation ?? 'ladder';
  const arms: [string, Router, RunOptions][] = [
    [`${cmd.strategy} + ladder`, routed('ladder'), quiet],
    ...(cascades ? [[`${cmd.strategy} + cascade`, routed('cascade'), quiet] as [string, Router, RunOptions]] : []),
    [`${cmd.strategy} + ${own} + speculative`, routed(own), { ...quiet, speculative: cmd.speculative! }],
    ['always-best', singleModelRouter(bestModelId(dataset.catalog)), quiet],
  ];
  let speculativeSims: SimulatedRequest[] = [];
  const rows = arms.map(([routing, router, options]) => {
    const { summary, sims } = runStrategy(dataset.rows, router, options);
    if (options.speculative) speculativeSims = sims;
    const quality = summary.quality;
    return { routing, p50Ms: summary.latencyP50Ms, p95Ms: summary.latencyP95Ms, costPer1k: summary.costPer1k, qualityRetention: bestQuality > 0 ? quality / bestQuality : 1, escalationRate: summary.escalationRate };
  });
  const raced = speculativeSims.map((sim, i) => ({ sim, row: dataset.rows[i]! })).filter(({ sim }) => sim.raced);
  const ladder = escalationLadder(dataset.catalog);
  const partnerAlone = raced.map(({ sim, row }) => {
    const model = sim.attempts.find((a) => a.cause === 'speculative')!.model;
    return callLatencyMs(ladder.find((r) => r.id === model)!, row.outcomes[model]!.outputTokens) + JUDGE_LATENCY_MS;
  });
  const p50Ms = percentile(raced.map(({ sim }) => sim.latencyMs), 50);
  const partnerAloneP50Ms = percentile(partnerAlone, 50);
  return {
    rows,
    triggered: {
      requests: raced.length,
      share: raced.length / dataset.rows.length,
      p50Ms,
      partnerAloneP50Ms,
      ratio: partnerAloneP50Ms > 0 ? p50Ms / partnerAloneP50Ms : 0,
      byTask: raced.reduce<Record<string, number>>((by, { row }) => ({ ...by, [row.task]: (by[row.task] ?? 0) + 1 }), {}),
    },
  };
}

/** Strategies fitted on labelled outcomes (kNN is compared beside them). */
function isLearned(name: string): boolean {
  return STRATEGY_NAMES.includes(name) && definitionNamed(name).fit !== undefined;
}

/** The workflow runs the same policy as the fast path: rules, or a learned strategy's trained artefact. */
function throughTemporalPolicy(cmd: EvalCommand): RoutingPolicy {
  const base = {
    id: 'eval',
    version: `eval-${cmd.strategy}`,
    gate: { threshold: DEFAULT_THRESHOLD },
    maxEscalations: cmd.maxEscalations,
    storePrompts: 'hashed' as const,
    quickSteps: 'local' as const,
    ...(cmd.escalation ? { escalation: cmd.escalation } : {}),
    ...(cmd.willingnessToPayUsd !== undefined ? { willingnessToPayUsd: cmd.willingnessToPayUsd } : {}),
  };
  if (cmd.strategy === 'rules') return { ...cmd.rulesPolicy, ...base };
  const artefactPolicy = STRATEGY_NAMES.includes(cmd.strategy) ? definitionNamed(cmd.strategy).artefactPolicy : undefined;
  if (artefactPolicy && cmd.model) {
    return artefactPolicy(base, cmd.model, { judgeCostRatio: cmd.gate.judgeCostRatio ?? DEFAULT_JUDGE_COST_RATIO, ...(cmd.lambda !== undefined ? { lambda: cmd.lambda } : {}) });
  }
  throw new ValidationError('command line', [
    { path: '--through-temporal', message: 'runs a policy the workflow can load: --strategy rules, or a learned strategy with --model ARTEFACT.json' },
  ]);
}

export function renderEval(output: EvalOutput): string {
  const lines = [renderReport(output), '', ...output.notes.map((n) => `note: ${n}`)];
  if (output.retentionLevels) {
    const usd = (x: number | null) => (x === null ? 'not reached' : `$${(x * 1000).toFixed(4)}`);
    lines.push('', 'cost per 1k requests to reach a quality retention (vs always-best)');
    const ladder = output.retentionLevels.some((l) => l.ladderCost !== undefined);
    lines.push(
      formatTable(
        ['retention', output.strategy, ...(ladder ? [output.strategy.replace(/\+cascade$/, '+ladder')] : []), 'kNN', 'blind mixing'],
        output.retentionLevels.map((l) => [percent(l.retention), usd(l.strategyCost), ...(ladder ? [usd(l.ladderCost ?? null)] : []), usd(l.knnCost), usd(l.blindMixingCost)]),
      ),
    );
  }
  if (output.latency) {
    const { rows, triggered } = output.latency;
    const ms = (x: number) => `${Math.round(x)} ms`;
    lines.push('', 'latency on the same requests (offline latency model: ASSUMED per-tier speeds, src/analytics/offline/latency.ts)');
    lines.push(formatTable(['routing', 'p50', 'p95', 'cost / 1k requests', 'retention vs best', 'escalation rate'], rows.map((r) => [r.routing, ms(r.p50Ms), ms(r.p95Ms), `$${r.costPer1k.toFixed(4)}`, percent(r.qualityRetention), percent(r.escalationRate)])));
    const tasks = Object.entries(triggered.byTask).map(([task, n]) => `${task} ${n}`).join(', ');
    lines.push(`raced: ${triggered.requests} requests (${percent(triggered.share)}${tasks ? `: ${tasks}` : ''}); their p50 ${ms(triggered.p50Ms)} against ${ms(triggered.partnerAloneP50Ms)} for the partner alone (${triggered.ratio.toFixed(2)}×)`);
  }
  if (output.throughTemporal) {
    const t = output.throughTemporal;
    lines.push('', `through real routeRequest workflows (replay provider, same simulated judge): ${t.workflowsPerSec.toFixed(1)} workflows/s`);
    lines.push(formatTable(['metric', 'workflows', '|workflows − fast path|'], Object.entries(t.metrics).map(([k, v]) => [k, v.toFixed(6), t.maxAbsDifference[k as keyof ComparedMetrics].toExponential(2)])));
  }
  return lines.join('\n');
}
