/**
 * The decision log's tables, as Kysely sees them: one schema for SQLite and PostgreSQL. Instants are ISO-8601
 * text (UTC, so they sort and compare as strings in both), booleans are 0/1 integers, lists and objects are JSON
 * text. log_json keeps the whole row as the workflow wrote it, so nothing is lost to the columns' choices.
 */

export interface DecisionLogTable {
  request_id: string;
  workflow_id: string;
  recorded_at: string;
  tenant: string;
  policy_id: string;
  policy_version: string;
  strategy: string;
  /** The first choice (the seed's "selected model") and the model whose answer was kept. */
  selected_model: string;
  final_model: string;
  best_model: string;
  alternative_models: string;
  request_features: string;
  confidence: number;
  propensity: number;
  quality_score: number;
  passed: number;
  escalated: number;
  escalations: number;
  /** Whether a speculative partner ran beside the routed model. */
  raced: number;
  cost_usd: number;
  cost_saved_usd: number;
  judge_cost_usd: number;
  possibly_billed_usd: number;
  /** Model time: sequential calls summed, a raced pair counted once (see requestLatencyMs). */
  latency_ms: number;
  origin: string;
  log_json: string;
}

export interface DecisionAttemptTable {
  request_id: string;
  attempt_index: number;
  model: string;
  cause: string;
  status: string;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  cost_estimated: number;
  latency_ms: number;
  /** Null when the call failed or was cancelled before the gate judged it. */
  verdict_passed: number | null;
  verdict_score: number | null;
  evaluator: string | null;
  judge_cost_usd: number;
  error: string | null;
}

export interface ShadowSampleTable {
  request_id: string;
  workflow_id: string;
  recorded_at: string;
  tenant: string;
  policy_id: string;
  strategy: string;
  routed_model: string;
  best_model: string;
  judge_model: string;
  routed_score: number;
  best_score: number;
  routed_shown_first: number;
  cost_usd: number;
  origin: string;
}

export interface DecisionLogDatabase {
  decision_log: DecisionLogTable;
  decision_attempt: DecisionAttemptTable;
  shadow_sample: ShadowSampleTable;
}
