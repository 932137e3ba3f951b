import { Context } from '@temporalio/activity';
import type { PossiblyBilled } from '../domain/results';

/**
 * What a paid call heartbeats. When the worker dies, the workflow receives the last of these with the timeout and
 * counts every attempt up to it as possibly billed (src/workflows/billing.ts).
 */
export interface PaidCallHeartbeat {
  attempt: number;
  perCallUsd: number;
}

/**
 * What a cancelled model call (the loser of a speculative race) reports in its CancelledFailure's details: what it
 * can have cost. The workflow records it as an attempt of its own (src/workflows/billing.ts).
 */
export interface CancelledCall {
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** True when the provider reported no usage before the abort, so the tokens are estimated. */
  estimated: boolean;
  latencyMs: number;
  possiblyBilled?: PossiblyBilled;
}

/** The key a provider can deduplicate retries by: one per (request, model, attempt series), the same on every retry. */
export function idempotencyKey(requestId: string, callee: string): string {
  return `${requestId}:${callee}:${Context.current().info.activityId}`;
}

/**
 * Attempts of this activity that may have been billed without their result being seen: every attempt before this
 * one (a killed worker, a lost completion, a provider that answered after our timeout), plus this one when it
 * ends without an answer it could have been billed for (`thisOneToo`).
 */
export function possiblyBilledAttempts(perCallUsd: number, thisOneToo = false): PossiblyBilled | undefined {
  const calls = Context.current().info.attempt - 1 + (thisOneToo ? 1 : 0);
  return perCallUsd > 0 && calls > 0 ? { calls, usd: calls * perCallUsd, estimate: true } : undefined;
}

/** Runs `work` while heartbeating (at once, then every interval), so a dead worker is noticed within the heartbeat timeout. */
export async function withHeartbeat<T>(intervalMs: number, perCallUsd: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  // A local activity (a recorded verdict, no paid call) has no heartbeat to send.
  if (ctx.info.isLocal) return work(ctx.cancellationSignal);
  const details: PaidCallHeartbeat = { attempt: ctx.info.attempt, perCallUsd };
  ctx.heartbeat(details);
  const timer = setInterval(() => ctx.heartbeat(details), intervalMs);
  try {
    return await work(ctx.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}
