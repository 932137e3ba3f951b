import type { RouteRequest } from '../domain/request';
import type { ModelResult, QualityVerdict } from '../domain/results';
import { JudgeReplyError } from './judge';
import type { Evaluator } from './types';

export { defaultValidators } from './validators';

export interface QualityGateOptions {
  /** Cheap pass/fail checks; any score below 1 is a hard failure. */
  validators: Evaluator[];
  /** Grades answers that pass the validators (judge, recorded verdict); without one, a valid answer scores 1. */
  scorer?: Evaluator;
}

/**
 * Validators first, scorer second: an answer that fails a free check is rejected before a paid judge call.
 * The threshold comparison lives here, so every caller (activity, offline evaluator, tests) gets the same rule.
 */
export class QualityGate {
  private readonly validators: Evaluator[];
  private readonly scorer?: Evaluator;

  constructor(options: QualityGateOptions) {
    this.validators = options.validators;
    this.scorer = options.scorer;
  }

  /** The most one evaluation can cost in paid calls: the judge's, when it would be asked. */
  paidCallCeilingUsd(request: RouteRequest, result: ModelResult): number {
    return this.scorer?.paidCallCeilingUsd?.(request, result) ?? 0;
  }

  async evaluate(request: RouteRequest, result: ModelResult, threshold: number, signal?: AbortSignal, idempotencyKey?: string): Promise<QualityVerdict> {
    if (!(threshold >= 0 && threshold <= 1)) throw new RangeError(`quality threshold must be within 0..1, got ${threshold}`);
    const checks = await Promise.all(this.validators.map(async (v) => ({ name: v.name, evaluation: await v.evaluate(request, result, signal) })));
    let costUsd = checks.reduce((sum, c) => sum + c.evaluation.costUsd, 0);
    const failures = checks.filter((c) => c.evaluation.score < 1);
    if (failures.length > 0) {
      return {
        passed: false,
        score: 0,
        threshold,
        evaluator: 'validators',
        reasons: failures.flatMap((f) => f.evaluation.reasons.map((r) => `${f.name}: ${r}`)),
        costUsd,
      };
    }

    const evaluator = [this.validators.length > 0 ? 'validators' : '', this.scorer?.name ?? ''].filter(Boolean).join('+') || 'none';
    if (!this.scorer) return { passed: true, score: 1, threshold, evaluator, reasons: [], costUsd };

    signal?.throwIfAborted();
    let graded;
    try {
      graded = await this.scorer.evaluate(request, result, signal, idempotencyKey);
    } catch (err) {
      // The judge was paid and answered nonsense: count its cost and treat the answer as unverified (escalate).
      if (!(err instanceof JudgeReplyError)) throw err;
      return { passed: false, score: 0, threshold, evaluator, reasons: [err.message], costUsd: costUsd + err.costUsd };
    }
    if (!Number.isFinite(graded.score)) throw new Error(`evaluator ${this.scorer.name} returned a non-numeric score`);
    const score = Math.min(1, Math.max(0, graded.score));
    costUsd += graded.costUsd;
    return { passed: score >= threshold, score, threshold, evaluator, reasons: graded.reasons, costUsd };
  }
}
