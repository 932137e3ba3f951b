import type { DecisionLog, QualityVerdict } from '../domain/results';
import type { ProviderErrorKind } from '../providers/types';

/** How one model-call attempt ended: an answer, an error (the provider's or another), or a cancellation (a lost race). */
export type ModelCallOutcome = 'completed' | 'failed' | 'cancelled';

export interface ModelCallObservation {
  model: string;
  provider: string;
  outcome: ModelCallOutcome;
  /** Wall time the worker waited for the provider. */
  seconds: number;
}

/**
 * What the activities report for dashboards; the Prometheus implementation lives at the edge (src/worker/prometheus.ts),
 * so activities and their tests never see prom-client.
 */
export interface RouterMetrics {
  /** A finished request, once: called only when its decision-log row was written by this call, not by an earlier attempt. */
  requestRecorded(log: DecisionLog): void;
  /** Every model-call attempt, retries included. */
  modelCall(call: ModelCallObservation): void;
  /** Every gate evaluation, on the model whose answer it judged. */
  verdict(model: string, verdict: QualityVerdict): void;
  /** A model call's provider failure, by its kind, before Temporal retries it (or not). */
  providerError(kind: ProviderErrorKind, model: string, provider: string): void;
}
