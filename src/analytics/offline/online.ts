import { extractFeatures } from '../../routing/features';
import { unitHash } from '../../routing/hash';
import { escalationPlan, type EscalationPlan } from '../../routing/plan';
import { seededRandom } from '../../routing/random';
import { banditStrategy, type BanditPolicy } from '../../routing/strategies/bandit';
import type { BanditAlgorithm } from '../../routing/strategies/bandit/types';
import type { RoutingStrategy } from '../../routing/strategies/types';
import type { ModelSpec } from '../../domain/catalog';
import { bestModelId } from './baselines';
import type { EvalRow } from './dataset';
import { summarizeRun, type RunSummary } from './metrics';
import { runRequest, type GateSimulation, type SimulatedRequest } from './simulate';

/*
 * Online evaluation of a learning strategy: the rows stream by in a seeded random order, the strategy picks a first
 * choice, the simulated gate and the workflow's escalation function play the cascade out, and the strategy learns
 * only from what it tried (bandit feedback: the gate's verdict on the kept answer and what its calls cost, never the
 * recorded outcomes of the models it did not call). Regret is counted on the true reward (recorded quality).
 */

export interface OnlineOptions {
  catalog: readonly ModelSpec[];
  threshold: number;
  maxEscalations: number;
  gate: GateSimulation;
  /** The bandit policy; each algorithm of `algorithms` is run with its other settings. */
  policy: BanditPolicy;
  algorithms: readonly BanditAlgorithm[];
  seeds: readonly number[];
  onProgress?: (done: number, total: number) => void;
}

export interface StreamRun {
  algorithm: BanditAlgorithm;
  seed: number;
  whole: RunSummary;
  lastHalf: RunSummary;
  /** Σ (oracle's reward − the strategy's), the oracle knowing every model's recorded outcome on each request. */
  regretVsOracle: number;
  /** Σ (best single first choice's reward − the strategy's), that choice picked in hindsight for the whole stream. */
  regretVsBestFixed: number;
  bestFixedArm: string;
  /** First-choice shares per quarter of the stream: how the choices moved as it learnt. */
  choicesByQuarter: Record<string, number>[];
  /** The rows of the stream's second half (for comparisons on the same requests). */
  lastHalfRows: EvalRow[];
}

/** Reward the bandit maximises, on the truth: recorded quality of the kept answer − λ·cost ÷ the best model's cost. */
function trueReward(sim: SimulatedRequest, bestCostUsd: number, lambda: number): number {
  return sim.quality - lambda * (sim.costUsd / bestCostUsd);
}

/** The stream order of a seed: rows sorted by a seeded hash of their id. */
export function streamOrder(rows: readonly EvalRow[], seed: number): EvalRow[] {
  return rows
    .map((row, i) => ({ row, i, h: unitHash('stream', seed, row.rowId) }))
    .sort((a, b) => a.h - b.h || a.i - b.i)
    .map((x) => x.row);
}

function shares(sims: readonly SimulatedRequest[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of sims) counts[s.attempts[0]!.model] = (counts[s.attempts[0]!.model] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).map(([m, n]) => [m, n / sims.length]));
}

function runStream(rows: readonly EvalRow[], algorithm: BanditAlgorithm, seed: number, plan: EscalationPlan, options: OnlineOptions): StreamRun {
  const policy: BanditPolicy = { ...options.policy, bandit: { ...options.policy.bandit, algorithm } };
  const strategy: RoutingStrategy = banditStrategy.create(policy, { ladder: plan.ladder, load: () => { throw new Error('the bandit reads no files'); } });
  const gate = { ...options.gate, seed };
  const random = seededRandom(seed);
  const order = streamOrder(rows, seed);
  const lambda = policy.bandit.lambda;
  const arms = plan.ladder.map((r) => r.id);
  const sims: SimulatedRequest[] = [];
  const armTotals = new Map(arms.map((a) => [a, 0]));
  let chosenTotal = 0;
  let oracleTotal = 0;
  for (const row of order) {
    const features = extractFeatures(row.request);
    const decision = strategy.decide({ request: row.request, features, random });
    const sim = runRequest(row, decision.model, plan, gate);
    const bestCostUsd = row.outcomes[plan.bestModel]!.costUsd;
    sims.push(sim);
    if (decision.context && decision.propensity !== undefined && bestCostUsd > 0) {
      const kept = sim.attempts.find((a) => a.model === sim.finalModel && a.verdict);
      strategy.learn!({
        requestId: row.request.requestId,
        arm: decision.model,
        context: decision.context,
        // What the router observes: the gate's score of the kept answer, not the recorded truth.
        quality: kept?.verdict?.score ?? 0,
        costUsd: sim.costUsd,
        bestCostUsd,
        latencyMs: 0,
        propensity: decision.propensity,
      });
    }
    // The counterfactuals, for regret only: every arm's cascade on this row with the same gate.
    let oracle = -Infinity;
    for (const arm of arms) {
      const r = trueReward(runRequest(row, arm, plan, gate), bestCostUsd, lambda);
      armTotals.set(arm, armTotals.get(arm)! + r);
      oracle = Math.max(oracle, r);
    }
    oracleTotal += oracle;
    chosenTotal += trueReward(sim, bestCostUsd, lambda);
  }
  const [bestFixedArm, bestFixedTotal] = [...armTotals].reduce((a, b) => (b[1] > a[1] ? b : a));
  const half = Math.floor(order.length / 2);
  const quarter = Math.ceil(order.length / 4);
  return {
    algorithm,
    seed,
    whole: summarizeRun(order, sims, plan),
    lastHalf: summarizeRun(order.slice(half), sims.slice(half), plan),
    regretVsOracle: oracleTotal - chosenTotal,
    regretVsBestFixed: bestFixedTotal - chosenTotal,
    bestFixedArm,
    choicesByQuarter: [0, 1, 2, 3].map((q) => shares(sims.slice(q * quarter, (q + 1) * quarter))).filter((s) => Object.keys(s).length > 0),
    lastHalfRows: order.slice(half),
  };
}

export interface Spread {
  mean: number;
  sd: number;
  min: number;
  max: number;
}

export function spread(xs: readonly number[]): Spread {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, sd, min: Math.min(...xs), max: Math.max(...xs) };
}

export interface AlgorithmSummary {
  algorithm: BanditAlgorithm;
  runs: number;
  whole: Record<(typeof FIGURES)[number], Spread>;
  lastHalf: Record<(typeof FIGURES)[number], Spread>;
  regretVsOracle: Spread;
  regretVsBestFixed: Spread;
}

const FIGURES = ['costSavings', 'qualityRetention', 'escalationRate', 'routingAccuracy', 'underRouting', 'overRouting', 'costPer1k'] as const;

export function summarizeAlgorithm(runs: readonly StreamRun[]): AlgorithmSummary {
  const of = (part: 'whole' | 'lastHalf') => Object.fromEntries(FIGURES.map((f) => [f, spread(runs.map((r) => r[part][f]))])) as AlgorithmSummary['whole'];
  return {
    algorithm: runs[0]!.algorithm,
    runs: runs.length,
    whole: of('whole'),
    lastHalf: of('lastHalf'),
    regretVsOracle: spread(runs.map((r) => r.regretVsOracle)),
    regretVsBestFixed: spread(runs.map((r) => r.regretVsBestFixed)),
  };
}

/** Every algorithm over every seed's stream. */
export function runOnline(rows: readonly EvalRow[], options: OnlineOptions): StreamRun[] {
  if (rows.length < 2) throw new Error('an online evaluation needs at least 2 rows');
  const plan = escalationPlan(options.catalog, { gateThreshold: options.threshold, maxEscalations: options.maxEscalations });
  if (plan.bestModel !== bestModelId(options.catalog)) throw new Error('the plan and the baselines disagree on the best model');
  const runs: StreamRun[] = [];
  const total = options.algorithms.length * options.seeds.length;
  for (const algorithm of options.algorithms) {
    for (const seed of options.seeds) {
      runs.push(runStream(rows, algorithm, seed, plan, options));
      options.onProgress?.(runs.length, total);
    }
  }
  return runs;
}
