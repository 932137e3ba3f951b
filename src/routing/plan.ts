import type { ModelSpec } from '../domain/catalog';
import type { Shadow } from '../domain/policy';
import type { RequestFeatures, RoutingDecision } from '../domain/results';
import type { CascadePlan } from './cascade';
import { bestModel, escalationLadder, type Rung } from './ladder';

/** What the escalation function needs: the ladder, its bounds and the gate's threshold. */
export interface EscalationPlan {
  ladder: Rung[];
  bestModel: string;
  maxEscalations: number;
  gateThreshold: number;
  /** The caller's spending cap: no escalation starts once the request has cost this much. */
  budgetUsd?: number;
  /** Escalation "cascade": the next model by expected gain (routing/cascade.ts); absent: the ladder. */
  cascade?: CascadePlan;
}

/**
 * Everything the workflow needs to run one request, decided once by the route activity and kept in history,
 * so the workflow never reads configuration itself and replays the same way after a catalog change.
 */
export interface RoutePlan extends EscalationPlan {
  decision: RoutingDecision;
  features: RequestFeatures;
  policyVersion: string;
  /** The policy's choice for the quick steps (absent in plans written before it existed: regular activities). */
  quickSteps?: 'local' | 'activity';
  /**
   * Set when the decision was unsure enough to race (the policy's `speculative.whenConfidenceBelow`): the partner
   * starts beside the routed model. `reason` says why, for the activity summaries and the log.
   */
  speculative?: { partner: string; prefer: 'cost' | 'latency'; reason: string };
  /** Whether grading a live answer calls a model (this worker's gate has a judge); if not, the gate is a quick step too. */
  liveGradingCallsModel?: boolean;
  /** The policy's shadow evaluation, when it sets one: after the answer, the workflow decides by request id (routing/shadow.ts). */
  shadow?: Shadow;
}

export interface PlanBounds {
  maxEscalations: number;
  gateThreshold: number;
  budgetUsd?: number | undefined;
}

/** The one plan builder: the route activity and the offline evaluator both climb this ladder. */
export function escalationPlan(catalog: readonly ModelSpec[], bounds: PlanBounds): EscalationPlan {
  const ladder = escalationLadder(catalog);
  return {
    ladder,
    bestModel: bestModel(ladder).id,
    maxEscalations: bounds.maxEscalations,
    gateThreshold: bounds.gateThreshold,
    ...(bounds.budgetUsd !== undefined ? { budgetUsd: bounds.budgetUsd } : {}),
  };
}

/** A route plan: the escalation plan plus the strategy's decision and the features it decided on. */
export function routePlan(plan: EscalationPlan, decision: RoutingDecision, features: RequestFeatures, policyVersion: string): RoutePlan {
  return { decision, features, ...plan, policyVersion };
}

/**
 * A request that names its model (`pinnedModel`): that model alone, on a one-model ladder, so nothing escalates;
 * the policy still gates and logs the answer.
 */
export function pinnedRoutePlan(model: ModelSpec, bounds: Omit<PlanBounds, 'maxEscalations'>, features: RequestFeatures, policyVersion: string): RoutePlan {
  const decision: RoutingDecision = {
    model: model.id,
    confidence: 1,
    confidenceAdjustment: 0,
    alternatives: [],
    reason: `model "${model.id}" named by the caller: no routing, no escalation`,
    strategy: 'pinned',
    policyVersion,
    propensity: 1,
  };
  return routePlan(escalationPlan([model], { ...bounds, maxEscalations: 0 }), decision, features, policyVersion);
}
