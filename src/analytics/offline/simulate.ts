import type { Attempt, QualityVerdict } from '../../domain/results';
import { keptAttemptIndex, requestCostUsd } from '../../routing/decisionLog';
import type { CascadePlan } from '../../routing/cascade';
import { priceTokens } from '../../domain/cost';
import { escalationsOf, firstStep, nextStep, type NextStep } from '../../routing/escalation';
import type { RoutePlan } from '../../routing/plan';
import { callLatencyMs, JUDGE_LATENCY_MS, streamedOutputTokens } from './latency';
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
  /** The call's latency under the offline latency model (until cancelled, for a cancelled call). */
  latencyMs: number;
  /** Set for a speculative race's other call: "cancelled" (cost estimated) or "completed" before the cancel. */
  status?: 'completed' | 'cancelled';
  costEstimated?: boolean;
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
  /** Wall-clock time of the request under the latency model: calls and judgements in sequence, a race in parallel. */
  latencyMs: number;
  /** A speculative partner was raced beside the first choice. */
  raced: boolean;
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

/** How one request is routed: the first choice, and what the route activity would add to its plan. */
export interface RequestRouting {
  firstChoice: string;
  /** Escalate by the cascade (its plan for this request). */
  cascade?: CascadePlan;
  /** Race this partner beside the first choice (speculativeRace decided it). */
  speculative?: RoutePlan['speculative'];
}

/**
 * Replays one request: the first step (with its speculative partner, if any), then with the gate on nextStep() until
 * it stops. The judge's verdict is the truth (quality >= threshold) flipped with probability judgeError (judgeErs);
 * every judgement costs judgeCostFor(row). Latency follows the offline latency model (latency.ts, assumptions).
 */
export function runRequest(row: EvalRow, routing: string | RequestRouting, basePlan: EscalationPlan, gate: GateSimulation): SimulatedRequest {
  const { firstChoice, cascade, speculative } = typeof routing === 'string' ? ({ firstChoice: routing } as RequestRouting) : routing;
  // The cascade's plan is the request's own (its probabilities and prices), as the route activity makes it.
  const plan = cascade ? { ...basePlan, cascade } : basePlan;
  const attempts: SimAttempt[] = [];
  const judgeCost = gate.enabled ? judgeCostFor(row, gate) : 0;
  const judgeMs = gate.enabled ? JUDGE_LATENCY_MS : 0;
  const rungOf = (model: string) => {
    const rung = plan.ladder.find((r) => r.id === model);
    if (!rung) throw new Error(`model "${model}" is not on the evaluation ladder`);
    return rung;
  };
  const call = (model: string, cause: Attempt['cause']): SimAttempt => {
    const outcome = outcomeOf(row, model);
    const truePass = outcome.quality >= plan.gateThreshold;
    let verdict: QualityVerdict | undefined;
    let flipped = false;
    if (gate.enabled) {
      flipped = judgeErs(gate.seed, row.rowId, model, gate.judgeError);
      const passed = flipped ? !truePass : truePass;
      // The judge's score, as the through-Temporal judge gives it: what it believes, not the recorded truth.
      verdict = { passed, score: passed ? 1 : 0, threshold: plan.gateThreshold, evaluator: 'simulated-judge', reasons: NO_REASONS, costUsd: judgeCost };
    }
    const latencyMs = callLatencyMs(rungOf(model), outcome.outputTokens);
    return { model, cause, costUsd: outcome.costUsd, quality: outcome.quality, truePass, verdict, flipped, latencyMs };
  };
  /** A call cancelled `atMs` after it started: its input, and the output streamed by then (an estimate). */
  const cancelled = (attempt: SimAttempt, atMs: number): SimAttempt => {
    if (attempt.latencyMs <= atMs) return { ...attempt, verdict: undefined, status: 'completed' };
    const rung = rungOf(attempt.model);
    const outcome = outcomeOf(row, attempt.model);
    const usd = priceTokens(rung, outcome.inputTokens, streamedOutputTokens(rung, outcome.outputTokens, atMs));
    return { ...attempt, verdict: undefined, costUsd: Math.min(attempt.costUsd, usd), latencyMs: atMs, status: 'cancelled', costEstimated: true };
  };
  let elapsedMs = 0;
  let raced = false;
  let step: NextStep | undefined = speculative && gate.enabled ? firstStep({ decision: { model: firstChoice }, speculative }) : { model: firstChoice, cause: 'routed' };
  while (step) {
    if (attempts.length > plan.ladder.length + 2) throw new Error(`escalation did not stop for row "${row.rowId}"`);
    if (step.partner) {
      raced = true;
      const routed = call(step.model, step.cause);
      const partner = call(step.partner, 'speculative');
      // Gated in order of arrival with prefer "latency", else the routed answer first; the loser is cancelled.
      const partnerFirst = speculative?.prefer === 'latency' && partner.latencyMs < routed.latencyMs;
      const [first, second] = partnerFirst ? [partner, routed] : [routed, partner];
      const firstGatedMs = first.latencyMs + judgeMs;
      const settled = first.verdict?.passed ? [first, cancelled(second, firstGatedMs)] : [first, second];
      elapsedMs += first.verdict?.passed ? firstGatedMs : Math.max(firstGatedMs, second.latencyMs) + judgeMs;
      attempts.push(...(partnerFirst ? settled.reverse() : settled));
    } else {
      const attempt = call(step.model, step.cause);
      attempts.push(attempt);
      elapsedMs += attempt.latencyMs + judgeMs;
    }
    step = gate.enabled ? nextStep(plan, attempts) : undefined;
  }
  // A cancelled call gave no answer; every other recorded outcome is one.
  const kept = attempts[keptAttemptIndex(attempts, (i) => attempts[i]!.status === undefined, cascade !== undefined)]!;
  return {
    attempts,
    finalModel: kept.model,
    quality: kept.quality,
    costUsd: requestCostUsd(attempts),
    latencyMs: elapsedMs,
    raced,
    judgeCostUsd: judgeCost * attempts.filter((a) => a.verdict).length,
    escalated: escalationsOf(attempts) > 0,
  };
}
