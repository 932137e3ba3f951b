/**
 * What `model-router report` computes from the decision log: one object, printed as a table, written as JSON, or
 * drawn as an HTML page. Shares are 0..1; money is USD.
 */

export const GROUP_BYS = ['strategy', 'policy', 'tenant', 'model', 'day'] as const;
export type GroupBy = (typeof GROUP_BYS)[number];

export interface ReportFilter {
  /** ISO-8601 instants, inclusive since, exclusive until. */
  since?: string;
  until?: string;
  policy?: string;
  tenant?: string;
}

/** A 95 % confidence interval around an estimate. */
export interface Interval {
  estimate: number;
  low: number;
  high: number;
  /** How many observations it rests on. */
  samples: number;
}

export interface GroupFigures {
  key: string;
  requests: number;
  /**
   * Share of labelled requests whose first choice was adequate: its gate verdict passed and, where a shadow sample
   * exists, the blind judge did not score the best model's answer higher. An escalation is an observed under-routing.
   * Null when no request carries a label.
   */
  routingAccuracy: { share: number; labelled: number; underRouted: number } | null;
  costUsd: number;
  /** What always-best would have cost on the same tokens (costUsd + costSavedUsd). */
  alwaysBestCostUsd: number;
  costSavedUsd: number;
  /** costSavedUsd / alwaysBestCostUsd (0 when there is nothing to compare). */
  savingsShare: number;
  costPer1kUsd: number;
  judgeCostUsd: number;
  /** Share of requests whose kept answer passed the gate. */
  passRate: number;
  escalationRate: number;
  /** Final (answering) model → share of the group's requests. */
  modelMix: Record<string, number>;
  latencyMs: { p50: number; p95: number; p99: number };
  /** From shadow samples: mean routed score / mean best score, with its 95 % interval; null without samples. */
  qualityRetention: Interval | null;
  /** Shadow runs' own cost, apart from costUsd. */
  shadowCostUsd: number;
  speculative: { raced: number; racedShare: number; partnerCancelled: number; cancelledCostUsd: number } | null;
  bandit: { requests: number; meanPropensity: number; exploredShare: number } | null;
}

export interface TimelinePoint {
  /** A UTC day (YYYY-MM-DD), hour (YYYY-MM-DDTHH) or minute (YYYY-MM-DDTHH:MM): the coarsest giving more than one point. */
  bucket: string;
  requests: number;
  escalationRate: number;
  savingsShare: number;
  modelMix: Record<string, number>;
}

export interface CostQualityPoint {
  label: string;
  kind: 'strategy' | 'always-best' | 'oracle';
  costPer1kUsd: number;
  /** Quality retention vs always-best (1 = as good); null where no shadow samples measured it. */
  qualityRetention: number | null;
}

export interface ExpensiveRequest {
  requestId: string;
  workflowId: string;
  timestamp: string;
  costUsd: number;
  finalModel: string;
  escalated: boolean;
  /** The run in the Temporal Web UI, when the report knows the UI's address. */
  webUiUrl?: string;
}

export interface RoutingReport {
  generatedAt: string;
  filter: ReportFilter;
  groupBy: GroupBy;
  totals: GroupFigures;
  groups: GroupFigures[];
  timeline: TimelinePoint[];
  /** Request latency (model time, as latencyMs): upper bounds in ms and the count in each bucket. */
  latencyHistogram: { boundsMs: number[]; counts: number[] };
  costQuality: CostQualityPoint[];
  expensive: ExpensiveRequest[];
}

/** One request as the report reads it from the decision log's columns and attempts table. */
export interface ReportRequest {
  requestId: string;
  workflowId: string;
  timestamp: string;
  tenant: string;
  policyId: string;
  strategy: string;
  selectedModel: string;
  finalModel: string;
  bestModel: string;
  propensity: number;
  passed: boolean;
  escalated: boolean;
  raced: boolean;
  costUsd: number;
  costSavedUsd: number;
  judgeCostUsd: number;
  latencyMs: number;
  origin: string;
  attempts: ReportAttempt[];
}

export interface ReportAttempt {
  model: string;
  cause: string;
  status: string;
  costUsd: number;
  /** The gate's verdict; null when the call failed or was cancelled before it was judged. */
  passed: boolean | null;
  score: number | null;
}
