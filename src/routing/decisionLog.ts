import type { RouteRequest } from '../domain/request';
import type { Attempt, DecisionLog, PossiblyBilled } from '../domain/results';
import { priceTokens } from '../domain/cost';
import { escalationsOf } from './escalation';
import type { RoutePlan } from './plan';
import type { StrategyOutcome } from './strategies/types';

/** Everything a request has cost: every model call that completed and every judgement of the gate. */
export function requestCostUsd(attempts: readonly Pick<Attempt, 'costUsd' | 'verdict'>[]): number {
  return attempts.reduce((sum, a) => sum + a.costUsd + (a.verdict?.costUsd ?? 0), 0);
}

/** Adds possibly-billed entries (a model call's, its judge's); undefined when none may have been billed. */
export function addPossiblyBilled(...entries: (PossiblyBilled | undefined)[]): PossiblyBilled | undefined {
  const present = entries.filter((e): e is PossiblyBilled => e !== undefined && e.calls > 0);
  if (present.length === 0) return undefined;
  return { calls: present.reduce((n, e) => n + e.calls, 0), usd: present.reduce((sum, e) => sum + e.usd, 0), estimate: true };
}

/**
 * The answer a request keeps: the first that passed the gate; failing that, the last attempt that produced an
 * answer (the ladder's strongest model reached), or with `bestScore` (the cascade, which can stop below the best
 * model) the answer the judge scored highest, the later on ties. -1 when no attempt answered.
 */
export function keptAttemptIndex(attempts: readonly Pick<Attempt, 'verdict'>[], answered: (index: number) => boolean, bestScore = false): number {
  const passing = attempts.findIndex((a) => a.verdict?.passed);
  if (passing >= 0) return passing;
  let kept = -1;
  for (let i = attempts.length - 1; i >= 0; i--) {
    if (!answered(i)) continue;
    if (!bestScore) return i;
    if (kept < 0 || (attempts[i]!.verdict?.score ?? 0) > (attempts[kept]!.verdict?.score ?? 0)) kept = i;
  }
  return kept;
}

export interface DecisionLogContext {
  request: RouteRequest;
  plan: RoutePlan;
  attempts: Attempt[];
  /** The answer kept: the passing one, else the last model that answered. */
  final: { attempt: Attempt; answer: string };
  workflowId: string;
  timestamp: string;
  /** The call the tenant's budget refused, which ended the ladder. */
  budgetStop?: DecisionLog['budgetStop'];
}

/** Folds a finished request into its one decision-log row; all cost arithmetic lives here. */
export function buildDecisionLog({ request, plan, attempts, final, workflowId, timestamp, budgetStop }: DecisionLogContext): DecisionLog {
  const best = plan.ladder.find((r) => r.id === plan.bestModel);
  if (!best) throw new Error(`best model "${plan.bestModel}" is not on the ladder`);
  const costUsd = requestCostUsd(attempts);
  const possiblyBilled = addPossiblyBilled(...attempts.map((a) => a.possiblyBilled));
  // The counterfactual: the best model answering the same request with the same tokens as the kept answer.
  const bestCostUsd = priceTokens(best, final.attempt.inputTokens, final.attempt.outputTokens);
  const origins = new Set(attempts.filter((a) => a.origin).map((a) => a.origin));
  const escalations = escalationsOf(attempts);
  return {
    requestId: request.requestId,
    workflowId,
    timestamp,
    tenant: request.tenant,
    policyId: request.policyId,
    policyVersion: plan.policyVersion,
    strategy: plan.decision.strategy,
    requestFeatures: plan.features,
    decision: plan.decision,
    selectedModel: plan.decision.model,
    finalModel: final.attempt.model,
    alternativeModels: plan.decision.alternatives,
    confidence: plan.decision.confidence,
    qualityScore: final.attempt.verdict?.score ?? 0,
    passed: final.attempt.verdict?.passed ?? false,
    costUsd,
    costSavedUsd: bestCostUsd - costUsd,
    possiblyBilledUsd: possiblyBilled?.usd ?? 0,
    possiblyBilledCalls: possiblyBilled?.calls ?? 0,
    bestModel: plan.bestModel,
    wasEscalated: escalations > 0,
    escalations,
    attempts,
    propensity: plan.decision.propensity ?? 1,
    answer: final.answer,
    origin: origins.size === 1 ? [...origins][0]! : origins.size === 0 ? 'live' : 'mixed',
    ...(budgetStop && { budgetStop }),
  };
}

/**
 * What a learning strategy learns from a finished request: its first choice, the context it chose in, the kept
 * answer's score, everything the request cost (escalations and judgements included) against what the best model
 * would have cost, and the propensity of the choice. Undefined for a decision that did not come from learning,
 * and for an answer kept unjudged: its score is the threshold, not a measured quality, and would teach a falsehood.
 */
export function learningOutcome(log: DecisionLog): StrategyOutcome | undefined {
  const { context, propensity } = log.decision;
  const bestCostUsd = log.costUsd + log.costSavedUsd;
  if (!context || propensity === undefined || !(bestCostUsd > 0)) return undefined;
  if (log.attempts.some((a) => a.verdict?.unjudged)) return undefined;
  return {
    requestId: log.requestId,
    arm: log.selectedModel,
    context,
    quality: log.qualityScore,
    costUsd: log.costUsd,
    bestCostUsd,
    latencyMs: log.attempts.reduce((sum, a) => sum + a.latencyMs, 0),
    propensity,
  };
}
