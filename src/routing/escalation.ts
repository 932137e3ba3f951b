import type { Attempt } from '../domain/results';
import { nextStronger } from './ladder';
import { requestCostUsd } from './decisionLog';
import type { EscalationPlan } from './plan';

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
  plan: Pick<EscalationPlan, 'ladder' | 'bestModel' | 'maxEscalations' | 'budgetUsd'>,
  attempts: readonly Pick<Attempt, 'model' | 'verdict' | 'costUsd'>[],
): NextStep | undefined {
  const last = attempts[attempts.length - 1];
  if (!last) return undefined;
  if (last.verdict?.passed || last.model === plan.bestModel) return undefined;
  if (plan.budgetUsd !== undefined && requestCostUsd(attempts) >= plan.budgetUsd) return undefined;
  const next = attempts.length - 1 < plan.maxEscalations ? nextStronger(plan.ladder, last.model) : undefined;
  return next ? { model: next.id, cause: 'escalation' } : { model: plan.bestModel, cause: 'best-fallback' };
}
