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

  /** What graded an answer that passed the validators, as verdicts name it: "validators+recorded|judge". */
  get name(): string {
    return [this.validators.length > 0 ? 'validators' : '', this.scorer?.name ?? ''].filter(Boolean).join('+') || 'none';
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
    const { failures, costUsd: validatorsCostUsd } = await this.validate(request, result, signal);
    let costUsd = validatorsCostUsd;
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

    const evaluator = this.name;
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
    const score = clampedScore(graded, gradedBy.name);
    costUsd += graded.costUsd;
    return { passed: score >= threshold, score, threshold, evaluator: gradedBy.evaluator, reasons: [...gradedBy.reasons, ...graded.reasons], costUsd };
  }

  /**
   * One answer's score for a comparison (shadow evaluation): 0 when a validator fails, else the scorer's (1 without
   * one). Nothing stands in for a judge that cannot be reached or read: its error propagates, since a stand-in score
   * would bias the comparison.
   */
  async score(request: RouteRequest, result: ModelResult, signal?: AbortSignal, idempotencyKey?: string): Promise<{ score: number; evaluator: string; costUsd: number }> {
    const { failures, costUsd } = await this.validate(request, result, signal);
    if (failures.length > 0) return { score: 0, evaluator: 'validators', costUsd };
    if (!this.scorer) return { score: 1, evaluator: this.name, costUsd };
    signal?.throwIfAborted();
    const graded = await this.scorer.evaluate(request, result, signal, idempotencyKey);
    return { score: clampedScore(graded, this.scorer.name), evaluator: this.name, costUsd: costUsd + graded.costUsd };
  }

  private async validate(request: RouteRequest, result: ModelResult, signal?: AbortSignal): Promise<{ failures: { name: string; evaluation: Evaluation }[]; costUsd: number }> {
    const checks = await Promise.all(this.validators.map(async (v) => ({ name: v.name, evaluation: await v.evaluate(request, result, signal) })));
    return { failures: checks.filter((c) => c.evaluation.score < 1), costUsd: checks.reduce((sum, c) => sum + c.evaluation.costUsd, 0) };
  }
}

function clampedScore(graded: Evaluation, by: string): number {
  if (!Number.isFinite(graded.score)) throw new Error(`evaluator ${by} returned a non-numeric score`);
  return Math.min(1, Math.max(0, graded.score));
}

function unreadable(err: JudgeReplyError, threshold: number, evaluator: string, costUsd: number): QualityVerdict {
  return { passed: false, score: 0, threshold, evaluator, reasons: [err.message], costUsd: costUsd + err.costUsd };
}
