import type { Attempt, QualityVerdict } from '../../domain/results';
import { keptAttemptIndex, requestCostUsd } from '../../routing/decisionLog';
import type { CascadePlan } from '../../routing/cascade';
import { nextStep } from '../../routing/escalation';
import type { EscalationPlan } from '../../routing/plan';
import { unitHash } from '../../routing/hash';
import type { EvalRow } from './dataset';

/*
 * One request replayed offline: the routed model, then — with the gate on — the simulated quality gate and the
 * escalation policy the workflow uses (nextStep, src/routing/escalation.ts), so offline numbers and workflow runs
 * climb the ladder the same way. No Temporal, no I/O.
 */

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
export function runRequest(row: EvalRow, firstChoice: string, basePlan: EscalationPlan, gate: GateSimulation, cascade?: CascadePlan): SimulatedRequest {
  // The cascade's plan is the request's own (its probabilities and prices), as the route activity makes it.
  const plan = cascade ? { ...basePlan, cascade } : basePlan;
  const attempts: SimAttempt[] = [];
  const judgeCost = gate.enabled ? judgeCostFor(row, gate) : 0;
  let step: { model: string; cause: Attempt['cause'] } | undefined = { model: firstChoice, cause: 'routed' };
  while (step) {
    if (attempts.length > plan.ladder.length + 1) throw new Error(`escalation did not stop for row "${row.rowId}"`);
    const outcome = outcomeOf(row, step.model);
    const truePass = outcome.quality >= plan.gateThreshold;
    let verdict: QualityVerdict | undefined;
    let flipped = false;
    if (gate.enabled) {
      flipped = judgeErs(gate.seed, row.rowId, step.model, gate.judgeError);
      const passed = flipped ? !truePass : truePass;
      // The judge's score, as the through-Temporal judge gives it: what it believes, not the recorded truth.
      verdict = {
        passed,
        score: passed ? 1 : 0,
        threshold: plan.gateThreshold,
        evaluator: 'simulated-judge',
        reasons: NO_REASONS,
        costUsd: judgeCost,
      };
    }
    attempts.push({ model: step.model, cause: step.cause, costUsd: outcome.costUsd, quality: outcome.quality, truePass, verdict, flipped });
    step = gate.enabled ? nextStep(plan, attempts) : undefined;
  }
  // Every recorded outcome is an answer, so the workflow's rule keeps the first pass, else the last attempt.
  const kept = attempts[keptAttemptIndex(attempts, () => true, cascade !== undefined)]!;
  return {
    attempts,
    finalModel: kept.model,
    quality: kept.quality,
    costUsd: requestCostUsd(attempts),
    judgeCostUsd: judgeCost * attempts.length,
    escalated: attempts.length > 1,
  };
}
