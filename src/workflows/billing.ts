import { ActivityFailure, ApplicationFailure, CancelledFailure, TimeoutFailure } from '@temporalio/workflow';
import type { CancelledCall, PaidCallHeartbeat } from '../activities/billing';
import type { PossiblyBilled } from '../domain/results';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/**
 * The calls a failed paid activity may have been billed for: what its last attempt reported in the failure's
 * details, or, when it timed out (a dead worker, an outage), every attempt up to the last one that heartbeated.
 */
export function possiblyBilledOf(err: ActivityFailure): PossiblyBilled | undefined {
  const cause = err.cause;
  if (cause instanceof ApplicationFailure) {
    const entry = (cause.details ?? []).find((d): d is { possiblyBilled: PossiblyBilled } => isRecord(d) && isRecord(d.possiblyBilled));
    return entry?.possiblyBilled;
  }
  if (cause instanceof TimeoutFailure && isRecord(cause.lastHeartbeatDetails)) {
    const { attempt, perCallUsd } = cause.lastHeartbeatDetails as Partial<PaidCallHeartbeat>;
    if (typeof attempt === 'number' && attempt > 0 && typeof perCallUsd === 'number' && perCallUsd > 0) {
      return { calls: attempt, usd: attempt * perCallUsd, estimate: true };
    }
  }
  return undefined;
}

/** What a cancelled model call reported it can have cost; undefined when it was cancelled before it started. */
export function cancelledCallOf(err: ActivityFailure): CancelledCall | undefined {
  const cause = err.cause;
  if (!(cause instanceof CancelledFailure)) return undefined;
  const entry = (cause.details ?? []).find((d): d is { cancelledCall: CancelledCall } => isRecord(d) && isRecord(d.cancelledCall));
  return entry?.cancelledCall;
}
