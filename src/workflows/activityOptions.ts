import type { ActivityOptions, RetryPolicy } from '@temporalio/workflow';
import { NON_RETRYABLE_FAILURES } from '../domain/failures';
import type { Rung } from '../routing/ladder';

/** The options every router workflow gives its activities (the request's and the shadow's). */
export const retry: RetryPolicy = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURES] };

// Paid calls heartbeat every second: a worker that dies mid-call is noticed within this, not after the call's whole
// start-to-close timeout, and its call retried on a live worker (and recorded as possibly billed).
export const HEARTBEAT_TIMEOUT = '5s';

// The judge is a model call too: it heartbeats, so cancellation reaches it and a dead worker is noticed early.
export const EVALUATE_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '60s',
  scheduleToCloseTimeout: '5m',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { ...retry, maximumAttempts: 5 },
};

/** A model call: the model's own timeouts, and a summary for the Web UI. */
export function modelCallOptions(rung: Rung, summary: string): ActivityOptions {
  return {
    startToCloseTimeout: rung.timeouts.startToCloseMs,
    scheduleToCloseTimeout: rung.timeouts.scheduleToCloseMs,
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    retry: { ...retry, maximumAttempts: 5 },
    summary,
  };
}
