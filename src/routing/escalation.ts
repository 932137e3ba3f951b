import type { Attempt } from '../domain/results';
import { nextStronger } from './ladder';
import type { RoutePlan } from './plan';

export interface NextStep {
  model: string;
  cause: Attempt['cause'];
}

/**
 * The escalation policy, shared by the workflow and the offline evaluator: after a failed attempt, the next
 * stronger tier at most maxEscalations times, then the best model; nothing after a pass, after the best model, or
 * once the request has spent its budget.
 */
export function nextStep(
  plan: Pick<RoutePlan, 'ladder' | 'bestModel' | 'maxEscalations' | 'budgetUsd'>,
  attempts: readonly Pick<Attempt, 'model' | 'verdict' | 'costUsd'>[],
): NextStep | undefined {
  const last = attempts[attempts.length - 1];
  if (!last) return undefined;
  if (last.verdict?.passed || last.model === plan.bestModel) return undefined;
  const spent = attempts.reduce((sum, a) => sum + a.costUsd + (a.verdict?.costUsd ?? 0), 0);
  if (plan.budgetUsd !== undefined && spent >= plan.budgetUsd) return undefined;
  const next = attempts.length - 1 < plan.maxEscalations ? nextStronger(plan.ladder, last.model) : undefined;
  return next ? { model: next.id, cause: 'escalation' } : { model: plan.bestModel, cause: 'best-fallback' };
}
