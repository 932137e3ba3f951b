import type { BanditPolicy } from '../../routing/strategies/bandit';
import { BANDIT_ALGORITHMS, type BanditAlgorithm } from '../../routing/strategies/bandit/types';
import { formatTable, percent } from '../table';
import { bestModelId } from './baselines';
import { loadEvalDataset, type EvalRow } from './dataset';
import { DEFAULT_THRESHOLD, runBaselines, runStrategy, type RunOptions } from './evaluate';
import type { EvalOutput } from './evalRun';
import { costToReach } from './metrics';
import { runOnline, summarizeAlgorithm, type AlgorithmSummary, type Spread, type StreamRun } from './online';
import type { GateSimulation } from './simulate';
import { fitHeldOut, heldOutFamily, LAMBDA_GRID } from './strategies';

/*
 * `model-router eval --strategy bandit --online`: every bandit algorithm over several seeded streams of the data,
 * learning from bandit feedback only, beside the cross-validated classifier on the same requests. The report has
 * `eval`'s shape (metrics are the policy's own algorithm, whole stream, mean over seeds) plus an `online` part.
 */

export interface OnlineCommand {
  data: string[];
  prices?: string;
  gate: GateSimulation;
  maxEscalations: number;
  folds: number;
  seeds: number[];
  policy: BanditPolicy;
  onProgress?: (done: number, total: number) => void;
}

type StreamFigures = Record<'costSavings' | 'qualityRetention' | 'escalationRate' | 'routingAccuracy' | 'underRouting' | 'overRouting' | 'costPer1k', number>;

export interface OnlineRunSummary {
  algorithm: BanditAlgorithm;
  seed: number;
  whole: StreamFigures;
  lastHalf: StreamFigures;
  regretVsOracle: number;
  regretVsBestFixed: number;
  bestFixedArm: string;
  choicesByQuarter: Record<string, number>[];
  /** The cross-validated classifier's cost savings on the same last-half requests, at the bandit's retention there. */
  classifierLastHalfSavings: number | null;
}

export interface OnlineOutput extends EvalOutput {
  online: {
    seeds: number[];
    lambda: number;
    algorithms: (AlgorithmSummary & { classifierLastHalfSavings: Spread | null })[];
    runs: OnlineRunSummary[];
  };
}

const pick = (s: StreamRun['whole']): StreamFigures => ({
  costSavings: s.costSavings,
  qualityRetention: s.qualityRetention,
  escalationRate: s.escalationRate,
  routingAccuracy: s.routingAccuracy,
  underRouting: s.underRouting,
  overRouting: s.overRouting,
  costPer1k: s.costPer1k,
});

/** The classifier's savings on `rows` at the given retention, on its held-out cost-quality hull over λ. */
function classifierSavingsAt(rows: readonly EvalRow[], family: ReturnType<typeof heldOutFamily>, run: RunOptions, retention: number, best: string): number | null {
  const curve = LAMBDA_GRID.map((lambda) => runStrategy(rows, family(lambda), { ...run, onProgress: undefined }).summary);
  const bestQuality = rows.reduce((s, r) => s + r.outcomes[best]!.quality, 0) / rows.length;
  const bestCost = rows.reduce((s, r) => s + r.outcomes[best]!.costUsd, 0) / rows.length;
  const cost = costToReach(curve, retention * bestQuality);
  return cost === null ? null : 1 - cost / bestCost;
}

function spreadOf(xs: (number | null)[]): Spread | null {
  const known = xs.filter((x): x is number => x !== null);
  if (known.length === 0) return null;
  const mean = known.reduce((s, x) => s + x, 0) / known.length;
  const sd = known.length > 1 ? Math.sqrt(known.reduce((s, x) => s + (x - mean) ** 2, 0) / (known.length - 1)) : 0;
  return { mean, sd, min: Math.min(...known), max: Math.max(...known) };
}

export function runOnlineEval(cmd: OnlineCommand): OnlineOutput {
  const dataset = loadEvalDataset(cmd.data, cmd.prices ? { prices: cmd.prices } : {});
  const run: RunOptions = { catalog: dataset.catalog, threshold: DEFAULT_THRESHOLD, maxEscalations: cmd.maxEscalations, gate: cmd.gate };
  const runs = runOnline(dataset.rows, {
    catalog: dataset.catalog,
    threshold: DEFAULT_THRESHOLD,
    maxEscalations: cmd.maxEscalations,
    gate: cmd.gate,
    policy: cmd.policy,
    algorithms: BANDIT_ALGORITHMS,
    seeds: cmd.seeds,
    ...(cmd.onProgress ? { onProgress: cmd.onProgress } : {}),
  });
  const classifier = heldOutFamily(fitHeldOut('classifier', dataset, { folds: cmd.folds, seed: cmd.seeds[0]!, k: 100, gate: cmd.gate }), dataset.rows);
  const best = bestModelId(dataset.catalog);
  const summaries: OnlineRunSummary[] = runs.map((r) => ({
    algorithm: r.algorithm,
    seed: r.seed,
    whole: pick(r.whole),
    lastHalf: pick(r.lastHalf),
    regretVsOracle: r.regretVsOracle,
    regretVsBestFixed: r.regretVsBestFixed,
    bestFixedArm: r.bestFixedArm,
    choicesByQuarter: r.choicesByQuarter,
    classifierLastHalfSavings: classifierSavingsAt(r.lastHalfRows, classifier, { ...run, gate: { ...cmd.gate, seed: r.seed } }, r.lastHalf.qualityRetention, best),
  }));
  const algorithms = BANDIT_ALGORITHMS.map((algorithm) => ({
    ...summarizeAlgorithm(runs.filter((r) => r.algorithm === algorithm)),
    classifierLastHalfSavings: spreadOf(summaries.filter((s) => s.algorithm === algorithm).map((s) => s.classifierLastHalfSavings)),
  }));
  const own = algorithms.find((a) => a.algorithm === cmd.policy.bandit.algorithm)!;
  const baselines = Object.fromEntries(Object.entries(runBaselines(dataset.rows, { ...run, randomSeed: cmd.seeds[0]! })).map(([name, s]) => [name, { quality: s.quality, cost: s.cost }]));
  return {
    strategy: 'bandit',
    n: dataset.rows.length,
    metrics: {
      routingAccuracy: own.whole.routingAccuracy.mean,
      underRouting: own.whole.underRouting.mean,
      overRouting: own.whole.overRouting.mean,
      costSavings: own.whole.costSavings.mean,
      qualityRetention: own.whole.qualityRetention.mean,
      escalationRate: own.whole.escalationRate.mean,
      costPer1k: own.whole.costPer1k.mean,
      apgr: null,
      aiq: null,
    },
    curve: [],
    baselines,
    notes: [
      `online: ${cmd.seeds.length} seeded streams per algorithm; each learns only from the models it called (bandit feedback); metrics are ${cmd.policy.bandit.algorithm}, whole stream, mean over seeds`,
      `reward = quality − ${cmd.policy.bandit.lambda}·cost ÷ best model's cost; regret on recorded quality`,
      ...dataset.notes,
      `gate: judge error ${cmd.gate.judgeError}, judge cost ${cmd.gate.judgeCostRatio} × the cheapest call, max escalations ${cmd.maxEscalations}`,
    ],
    online: { seeds: cmd.seeds, lambda: cmd.policy.bandit.lambda, algorithms, runs: summaries },
  };
}

const pm = (s: Spread) => `${percent(s.mean)} ± ${(s.sd * 100).toFixed(1)}`;

export function renderOnline(output: OnlineOutput): string {
  const o = output.online;
  const lines = [`strategy bandit, online over ${output.n} requests, seeds ${o.seeds.join(', ')}, λ=${o.lambda}`, ''];
  lines.push(
    formatTable(
      ['algorithm', 'savings (whole)', 'retention (whole)', 'savings (last half)', 'retention (last half)', 'escalation (last half)', 'classifier savings, same rows & retention', 'regret vs oracle', 'regret vs best fixed'],
      o.algorithms.map((a) => [
        a.algorithm,
        pm(a.whole.costSavings),
        pm(a.whole.qualityRetention),
        pm(a.lastHalf.costSavings),
        pm(a.lastHalf.qualityRetention),
        pm(a.lastHalf.escalationRate),
        a.classifierLastHalfSavings ? pm(a.classifierLastHalfSavings) : 'not reached',
        `${a.regretVsOracle.mean.toFixed(1)} ± ${a.regretVsOracle.sd.toFixed(1)}`,
        `${a.regretVsBestFixed.mean.toFixed(1)} ± ${a.regretVsBestFixed.sd.toFixed(1)}`,
      ]),
    ),
  );
  const first = o.runs.find((r) => r.algorithm === 'thompson') ?? o.runs[0]!;
  lines.push('', `first choices by quarter of the stream (${first.algorithm}, seed ${first.seed}; top three):`);
  first.choicesByQuarter.forEach((q, i) => lines.push(`  Q${i + 1}: ${Object.entries(q).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([m, v]) => `${m} ${percent(v)}`).join(', ')}`));
  lines.push('', ...output.notes.map((n) => `note: ${n}`));
  return lines.join('\n');
}
