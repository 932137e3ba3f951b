import type { RequestFeatures, RoutingDecision } from '../domain/results';
import type { Rung } from './ladder';

/**
 * Everything the workflow needs to run one request, decided once by the route activity and kept in history,
 * so the workflow never reads configuration itself and replays the same way after a catalog change.
 */
export interface RoutePlan {
  decision: RoutingDecision;
  features: RequestFeatures;
  ladder: Rung[];
  bestModel: string;
  maxEscalations: number;
  gateThreshold: number;
  policyVersion: string;
  /** The caller's spending cap: no escalation starts once the request has cost this much. */
  budgetUsd?: number;
}
