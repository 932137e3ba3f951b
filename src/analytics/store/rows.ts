/** Decision logs and shadow samples as table rows, and back: the one place the columns are chosen. */
import type { Attempt, DecisionLog, ShadowSample } from '../../domain/results';
import type { DecisionAttemptTable, DecisionLogTable, ShadowSampleTable } from './tables';

const bit = (b: boolean): number => (b ? 1 : 0);

/**
 * A request's model time: its calls one after another, except that a speculative partner ran beside the call it
 * raced, so a raced pair counts as the longer of the two. Judge time is not in attempts' latencies.
 */
export function requestLatencyMs(attempts: readonly Pick<Attempt, 'cause' | 'latencyMs'>[]): number {
  let total = 0;
  for (let i = 0; i < attempts.length; i++) {
    const a = attempts[i]!;
    const next = attempts[i + 1];
    if (next?.cause === 'speculative') {
      total += Math.max(a.latencyMs, next.latencyMs);
      i++;
    } else total += a.latencyMs;
  }
  return total;
}

export function judgeCostUsd(attempts: readonly Pick<Attempt, 'verdict'>[]): number {
  return attempts.reduce((sum, a) => sum + (a.verdict?.costUsd ?? 0), 0);
}

export function logColumns(log: DecisionLog): DecisionLogTable {
  return {
    request_id: log.requestId,
    workflow_id: log.workflowId,
    recorded_at: log.timestamp,
    tenant: log.tenant,
    policy_id: log.policyId,
    policy_version: log.policyVersion,
    strategy: log.strategy,
    selected_model: log.selectedModel,
    final_model: log.finalModel,
    best_model: log.bestModel,
    alternative_models: JSON.stringify(log.alternativeModels),
    request_features: JSON.stringify(log.requestFeatures),
    confidence: log.confidence,
    propensity: log.propensity,
    quality_score: log.qualityScore,
    passed: bit(log.passed),
    escalated: bit(log.wasEscalated),
    escalations: log.escalations,
    raced: bit(log.attempts.some((a) => a.cause === 'speculative')),
    cost_usd: log.costUsd,
    cost_saved_usd: log.costSavedUsd,
    judge_cost_usd: judgeCostUsd(log.attempts),
    possibly_billed_usd: log.possiblyBilledUsd,
    latency_ms: requestLatencyMs(log.attempts),
    origin: log.origin,
    log_json: JSON.stringify(log),
  };
}

export function attemptRows(log: DecisionLog): DecisionAttemptTable[] {
  return log.attempts.map((a, i) => ({
    request_id: log.requestId,
    attempt_index: i,
    model: a.model,
    cause: a.cause,
    status: a.status ?? (a.error === undefined ? 'completed' : 'failed'),
    input_tokens: a.inputTokens,
    output_tokens: a.outputTokens,
    cost_usd: a.costUsd,
    cost_estimated: bit(a.costEstimated ?? false),
    latency_ms: a.latencyMs,
    verdict_passed: a.verdict ? bit(a.verdict.passed) : null,
    verdict_score: a.verdict?.score ?? null,
    evaluator: a.verdict?.evaluator ?? null,
    judge_cost_usd: a.verdict?.costUsd ?? 0,
    error: a.error ?? null,
  }));
}

export function shadowColumns(s: ShadowSample): ShadowSampleTable {
  return {
    request_id: s.requestId,
    workflow_id: s.workflowId,
    recorded_at: s.timestamp,
    tenant: s.tenant,
    policy_id: s.policyId,
    strategy: s.strategy,
    routed_model: s.routedModel,
    best_model: s.bestModel,
    judge_model: s.judgeModel,
    routed_score: s.routedScore,
    best_score: s.bestScore,
    routed_shown_first: bit(s.routedShownFirst),
    cost_usd: s.costUsd,
    origin: s.origin,
  };
}

export function shadowOfRow(r: ShadowSampleTable): ShadowSample {
  return {
    requestId: r.request_id,
    workflowId: r.workflow_id,
    timestamp: r.recorded_at,
    tenant: r.tenant,
    policyId: r.policy_id,
    strategy: r.strategy,
    routedModel: r.routed_model,
    bestModel: r.best_model,
    judgeModel: r.judge_model,
    routedScore: Number(r.routed_score),
    bestScore: Number(r.best_score),
    routedShownFirst: Number(r.routed_shown_first) === 1,
    costUsd: Number(r.cost_usd),
    origin: r.origin as ShadowSample['origin'],
  };
}
