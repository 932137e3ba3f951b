import type { RouteRequest } from '../domain/request';
import type { ModelResult } from '../domain/results';
import type { Evaluation, Evaluator } from './types';

/** Raised when a recorded verdict is asked of a live answer; retrying cannot help, so it is not retryable. */
export class RecordedVerdictMissingError extends Error {
  constructor(readonly model: string, readonly origin: ModelResult['origin']) {
    super(
      `a recorded verdict needs a replayed or simulated answer with recordedQuality; ` +
        `the ${origin} answer from ${model} has none (use a judge for live answers)`,
    );
    this.name = 'RecordedVerdictMissingError';
  }
}

/**
 * Uses the quality recorded with a replayed or simulated answer, so offline runs and demos grade answers the way
 * the recorded data did, at no cost and without a judge model.
 */
export class RecordedVerdictEvaluator implements Evaluator {
  readonly name = 'recorded';

  async evaluate(_request: RouteRequest, result: ModelResult): Promise<Evaluation> {
    if (result.recordedQuality === undefined) throw new RecordedVerdictMissingError(result.model, result.origin);
    return {
      score: result.recordedQuality,
      reasons: [`recorded quality ${result.recordedQuality.toFixed(2)} (${result.origin} answer)`],
      costUsd: 0,
    };
  }
}
