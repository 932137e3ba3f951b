import type { RouteRequest } from '../domain/request';
import type { ModelResult } from '../domain/results';

/** One evaluator's opinion of one answer. */
export interface Evaluation {
  /** 0..1; a hard failure (empty answer, refusal, schema violation) scores 0. */
  score: number;
  reasons: string[];
  /** Evaluator spend, e.g. the judge model's call. */
  costUsd: number;
}

export interface Evaluator {
  readonly name: string;
  evaluate(request: RouteRequest, result: ModelResult, signal?: AbortSignal, idempotencyKey?: string): Promise<Evaluation>;
  /** True when grading a live answer calls a model (a judge): that grading must run as a regular activity. */
  readonly callsModelForLiveAnswers?: boolean;
  /** The most one grading of `result` can cost when it calls a paid model (0 or absent when it calls none). */
  paidCallCeilingUsd?(request: RouteRequest, result: ModelResult): number;
}
