import type { RouteRequest } from '../domain/request';
import type { ModelResult } from '../domain/results';
import { RecordedVerdictEvaluator } from './recorded';
import type { Evaluation, Evaluator } from './types';

/**
 * Grades replayed and simulated answers by their recorded quality and live answers by the judge, so one worker
 * can serve both. Without a judge, a live answer that passed the validators scores 1 (validators-only gate).
 */
export class ScorerByOrigin implements Evaluator {
  readonly name: string;
  private readonly recorded = new RecordedVerdictEvaluator();

  readonly callsModelForLiveAnswers: boolean;

  constructor(private readonly judge?: Evaluator) {
    this.name = judge ? `recorded|${judge.name}` : 'recorded|validators-only';
    this.callsModelForLiveAnswers = judge?.callsModelForLiveAnswers ?? false;
  }

  paidCallCeilingUsd(request: RouteRequest, result: ModelResult): number {
    return result.recordedQuality === undefined ? (this.judge?.paidCallCeilingUsd?.(request, result) ?? 0) : 0;
  }

  async evaluate(request: RouteRequest, result: ModelResult, signal?: AbortSignal, idempotencyKey?: string): Promise<Evaluation> {
    if (result.recordedQuality !== undefined) return this.recorded.evaluate(request, result);
    if (this.judge) return this.judge.evaluate(request, result, signal, idempotencyKey);
    return { score: 1, reasons: ['no judge configured: validators only'], costUsd: 0 };
  }
}
