import type { JudgeUnavailable } from '../domain/policy';
import { redactSecrets } from '../domain/redact';
import type { RouteRequest } from '../domain/request';
import type { ModelResult, QualityVerdict } from '../domain/results';
import { ProviderError } from '../providers/types';
import { JudgeReplyError } from './judge';
import type { Evaluation, Evaluator } from './types';

export { defaultValidators } from './validators';

export interface QualityGateOptions {
  /** Cheap pass/fail checks; any score below 1 is a hard failure. */
  validators: Evaluator[];
  /** Grades answers that pass the validators (judge, recorded verdict); without one, a valid answer scores 1. */
  scorer?: Evaluator;
  /** Judges by catalog model id, for policies whose `gate.onJudgeUnavailable` fails over to another model. */
  failoverJudges?: ReadonlyMap<string, Evaluator>;
}

/**
 * Validators first, scorer second: an answer that fails a free check is rejected before a paid judge call.
 * The threshold comparison lives here, so every caller (activity, offline evaluator, tests) gets the same rule.
 */
export class QualityGate {
  private readonly validators: Evaluator[];
  private readonly scorer?: Evaluator;
  private readonly failoverJudges: ReadonlyMap<string, Evaluator>;

  constructor(options: QualityGateOptions) {
    this.validators = options.validators;
    this.scorer = options.scorer;
    this.failoverJudges = options.failoverJudges ?? new Map();
  }

  /** Whether a live answer's grading calls a model (a judge; a failover judge only stands in for one). */
  get callsModelForLiveAnswers(): boolean {
    return this.scorer?.callsModelForLiveAnswers ?? false;
  }

  /** The most one evaluation can cost in paid calls: the judge's, when it would be asked. */
  paidCallCeilingUsd(request: RouteRequest, result: ModelResult): number {
    return this.scorer?.paidCallCeilingUsd?.(request, result) ?? 0;
  }

  /** `onJudgeUnavailable` is the policy's choice for a judge that cannot be reached; absent means "escalate". */
  async evaluate(
    request: RouteRequest,
    result: ModelResult,
    threshold: number,
    signal?: AbortSignal,
    onJudgeUnavailable: JudgeUnavailable = 'escalate',
    idempotencyKey?: string,
  ): Promise<QualityVerdict> {
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
    let graded: Evaluation;
    let gradedBy = { name: this.scorer.name, evaluator, reasons: [] as string[] };
    try {
      graded = await this.scorer.evaluate(request, result, signal, idempotencyKey);
    } catch (err) {
      // The judge was paid and answered nonsense: count its cost and treat the answer as unverified (escalate).
      if (err instanceof JudgeReplyError) return unreadable(err, threshold, evaluator, costUsd);
      // Only an unreachable judge is the policy's call; anything else (cancellation, a bug) propagates.
      if (!(err instanceof ProviderError) || onJudgeUnavailable === 'escalate') throw err;
      const why = `judge unavailable: ${redactSecrets(err.message)}`;
      if (onJudgeUnavailable === 'keep-unjudged') {
        // Passed at the bar, not above it: the score says "valid", and `unjudged` says nobody measured it.
        return { passed: true, score: threshold, threshold, evaluator: `${evaluator}:unjudged`, reasons: [`${why}; kept on the validators alone`], costUsd, unjudged: true };
      }
      const failover = this.failoverJudges.get(onJudgeUnavailable.failover);
      if (!failover) throw new Error(`no failover judge "${onJudgeUnavailable.failover}" is configured`);
      gradedBy = { name: failover.name, evaluator: `${evaluator}:failover ${onJudgeUnavailable.failover}`, reasons: [`${why}; judged by ${onJudgeUnavailable.failover} instead`] };
      try {
        graded = await failover.evaluate(request, result, signal, idempotencyKey && `${idempotencyKey}:failover`);
      } catch (failoverErr) {
        if (failoverErr instanceof JudgeReplyError) return unreadable(failoverErr, threshold, gradedBy.evaluator, costUsd);
        throw failoverErr;
      }
    }
    if (!Number.isFinite(graded.score)) throw new Error(`evaluator ${gradedBy.name} returned a non-numeric score`);
    const score = Math.min(1, Math.max(0, graded.score));
    costUsd += graded.costUsd;
    return { passed: score >= threshold, score, threshold, evaluator: gradedBy.evaluator, reasons: [...gradedBy.reasons, ...graded.reasons], costUsd };
  }
}

function unreadable(err: JudgeReplyError, threshold: number, evaluator: string, costUsd: number): QualityVerdict {
  return { passed: false, score: 0, threshold, evaluator, reasons: [err.message], costUsd: costUsd + err.costUsd };
}
