import type { ModelSpec } from '../../domain/catalog';
import type { Attempt, QualityVerdict } from '../../domain/results';
import { nextStep } from '../../routing/escalation';
import { bestModel, escalationLadder, type Rung } from '../../routing/ladder';
import type { EvalRow } from './dataset';

/*
 * One request replayed offline: the routed model, then — with the gate on — the simulated quality gate and the
 * escalation policy the workflow uses (nextStep, src/routing/escalation.ts), so offline numbers and workflow runs
 * climb the ladder the same way. No Temporal, no I/O.
 */

/** What runRequest needs of a route plan: the ladder and escalation bounds, and the gate threshold. */
export interface SimPlan {
  ladder: Rung[];
  bestModel: string;
  maxEscalations: number;
  /** The gate's truth: an answer passes when its recorded quality is at least this. */
  threshold: number;
}

export interface GateSimulation {
  /** false (`--no-gate`): the first choice alone, no judge cost, no escalation. */
  enabled: boolean;
  /** Probability that the judge's verdict is the opposite of the truth (0..1). */
  judgeError: number;
  /** Cost of one judgement in USD; when absent, judgeCostRatio × the cheapest model's recorded cost on the row. */
  judgeCostUsd?: number;
  /** J (`--judge-cost-ratio`); default DEFAULT_JUDGE_COST_RATIO. Ignored when judgeCostUsd is given. */
  judgeCostRatio?: number;
  /** Seeds the judge's errors; same seed, same flips. */
  seed: number | string;
}

export const DEFAULT_JUDGE_COST_RATIO = 0.1;

export interface SimAttempt {
  model: string;
  cause: Attempt['cause'];
  /** The model call's recorded cost (the judgement's is in verdict.costUsd). */
  costUsd: number;
  /** Recorded (true) quality of this answer. */
  quality: number;
  /** Whether the answer truly passes: quality >= threshold. */
  truePass: boolean;
  /** The simulated judge's verdict; absent with the gate off. */
  verdict?: QualityVerdict;
  /** The judge erred on this answer (verdict.passed !== truePass). */
  flipped: boolean;
}

export interface SimulatedRequest {
  attempts: SimAttempt[];
  /** The model whose answer was kept: the first passing verdict's, else the last model's (as in the workflow). */
  finalModel: string;
  /** True quality of the kept answer. */
  quality: number;
  /** Model calls plus judgements. */
  costUsd: number;
  judgeCostUsd: number;
  escalated: boolean;
}

/** A plan over a catalog, as the route activity would build it. */
export function simPlan(catalog: readonly ModelSpec[], options: { threshold: number; maxEscalations: number }): SimPlan {
  const ladder = escalationLadder(catalog);
  return { ladder, bestModel: bestModel(ladder).id, maxEscalations: options.maxEscalations, threshold: options.threshold };
}

/**
 * A deterministic number in [0, 1) from the parts (FNV-1a over the joined text, then a murmur3 finaliser):
 * the same parts always give the same number, on every platform.
 */
export function unitHash(...parts: readonly (string | number)[]): number {
  const text = parts.map(String).join('\u0000');
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 0x1_0000_0000;
}

/** Whether the simulated judge errs on (row, model): decided by unitHash(seed, row id, model) < judgeError. */
export function judgeErs(seed: number | string, rowId: string, model: string, judgeError: number): boolean {
  if (judgeError <= 0) return false;
  if (judgeError >= 1) return true;
  return unitHash('judge', seed, rowId, model) < judgeError;
}

/** The cheapest model's recorded cost on the row. */
export function cheapestCostUsd(row: EvalRow): number {
  let min = Infinity;
  for (const m in row.outcomes) min = Math.min(min, row.outcomes[m]!.costUsd);
  return Number.isFinite(min) ? min : 0;
}

/** One judgement's cost on this row. */
export function judgeCostFor(row: EvalRow, gate: Pick<GateSimulation, 'judgeCostUsd' | 'judgeCostRatio'>): number {
  if (gate.judgeCostUsd !== undefined) return gate.judgeCostUsd;
  return (gate.judgeCostRatio ?? DEFAULT_JUDGE_COST_RATIO) * cheapestCostUsd(row);
}

function outcomeOf(row: EvalRow, model: string) {
  const outcome = Object.prototype.hasOwnProperty.call(row.outcomes, model) ? row.outcomes[model] : undefined;
  if (!outcome) {
    throw new Error(`row "${row.rowId}" has no recorded outcome for model "${model}" (evaluated models: ${Object.keys(row.outcomes).join(', ')})`);
  }
  return outcome;
}

const NO_REASONS: string[] = [];

/**
 * Replays one request: firstChoice, then with the gate on nextStep() until it stops. The judge's verdict is the truth
 * (quality >= threshold) flipped with probability judgeError (judgeErs); every judgement costs judgeCostFor(row).
 */
export function runRequest(row: EvalRow, firstChoice: string, plan: SimPlan, gate: GateSimulation): SimulatedRequest {
  const attempts: SimAttempt[] = [];
  const judgeCost = gate.enabled ? judgeCostFor(row, gate) : 0;
  let step: { model: string; cause: Attempt['cause'] } | undefined = { model: firstChoice, cause: 'routed' };
  while (step) {
    if (attempts.length > plan.ladder.length + 1) throw new Error(`escalation did not stop for row "${row.rowId}"`);
    const outcome = outcomeOf(row, step.model);
    const truePass = outcome.quality >= plan.threshold;
    let verdict: QualityVerdict | undefined;
    let flipped = false;
    if (gate.enabled) {
      flipped = judgeErs(gate.seed, row.rowId, step.model, gate.judgeError);
      verdict = {
        passed: flipped ? !truePass : truePass,
        score: outcome.quality,
        threshold: plan.threshold,
        evaluator: 'simulated-judge',
        reasons: NO_REASONS,
        costUsd: judgeCost,
      };
    }
    attempts.push({ model: step.model, cause: step.cause, costUsd: outcome.costUsd, quality: outcome.quality, truePass, verdict, flipped });
    step = gate.enabled ? nextStep(plan, attempts) : undefined;
  }
  const kept = attempts.find((a) => a.verdict?.passed) ?? attempts[attempts.length - 1]!;
  const judgeCostUsd = judgeCost * attempts.length;
  return {
    attempts,
    finalModel: kept.model,
    quality: kept.quality,
    costUsd: attempts.reduce((s, a) => s + a.costUsd, 0) + judgeCostUsd,
    judgeCostUsd,
    escalated: attempts.length > 1,
  };
}
