import type { Attempt } from '../domain/results';
import { cascadeStep } from './cascade';
import { nextStronger } from './ladder';
import { requestCostUsd } from './decisionLog';
import type { EscalationPlan, RoutePlan } from './plan';

/** One step of a request: a model to call, and with speculative routing a partner started beside it at once. */
export interface NextStep {
  model: string;
  cause: Attempt['cause'];
  /** Raced beside `model` (its attempt has cause "speculative"); the workflow and the evaluator run both at once. */
  partner?: string;
  /** Why this model (the cascade says; the workflow otherwise tells it from the previous attempt). */
  reason?: string;
}

export type StepAttempt = Pick<Attempt, 'model' | 'verdict' | 'costUsd' | 'cause'> & Partial<Pick<Attempt, 'status' | 'error'>>;

/** The first step: the routed model, with its partner when the plan races one. */
export function firstStep(plan: Pick<RoutePlan, 'decision' | 'speculative'>): NextStep {
  const routed: NextStep = { model: plan.decision.model, cause: 'routed' };
  return plan.speculative && plan.speculative.partner !== routed.model ? { ...routed, partner: plan.speculative.partner } : routed;
}

/** Escalations so far: attempts after the first, speculative partners not counted (they ran beside the first). */
export function escalationsOf(attempts: readonly Pick<Attempt, 'cause'>[]): number {
  return Math.max(0, attempts.filter((a) => a.cause !== 'speculative').length - 1);
}

/**
 * The escalation policy, shared by the workflow and the offline evaluator: after failed attempts, the next
 * stronger tier than the strongest model tried, at most maxEscalations times, then the best model; nothing once an
 * answer passed, after the best model, or once the request has spent its budget. A speculative partner counts as
 * tried only when it was judged (a cancelled or failed partner leaves the ladder where it was). A plan with a
 * cascade (escalation "cascade") chooses the next model by expected gain instead, within the same bounds.
 */
export function nextStep(plan: Pick<EscalationPlan, 'ladder' | 'bestModel' | 'maxEscalations' | 'budgetUsd' | 'cascade'>, attempts: readonly StepAttempt[]): NextStep | undefined {
  if (attempts.length === 0) return undefined;
  if (attempts.some((a) => a.verdict?.passed)) return undefined;
  const tried = attempts.filter((a) => a.cause !== 'speculative' || a.verdict !== undefined);
  if (tried.some((a) => a.model === plan.bestModel)) return undefined;
  if (plan.budgetUsd !== undefined && requestCostUsd(attempts) >= plan.budgetUsd) return undefined;
  const boundReached = escalationsOf(attempts) >= plan.maxEscalations;
  if (plan.cascade) return cascadeStep({ ...plan, cascade: plan.cascade }, attempts, boundReached);
  const rank = (model: string) => plan.ladder.findIndex((r) => r.id === model);
  const strongest = tried.reduce((a, b) => (rank(b.model) > rank(a.model) ? b : a));
  const next = !boundReached ? nextStronger(plan.ladder, strongest.model) : undefined;
  return next ? { model: next.id, cause: 'escalation' } : { model: plan.bestModel, cause: 'best-fallback' };
}
