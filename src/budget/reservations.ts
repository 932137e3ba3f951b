/*
 * What the request workflow needs to reserve a call (pure, zod-free: the workflow bundle imports it).
 */

/**
 * The output cap a budgeted request's calls get when it sets no `maxOutputTokens`. It is sent to the provider as
 * the call's `max_tokens`, so the worst case reserved is one the provider cannot exceed.
 */
export const DEFAULT_BUDGETED_MAX_OUTPUT_TOKENS = 4_096;

/**
 * A reservation stays open for the call's own schedule-to-close timeout plus this: time for the settle activity to
 * reach the budget (its schedule-to-close is 5 minutes). Past it the reservation is charged at its worst case.
 */
export const SETTLE_MARGIN_MS = 10 * 60_000;

/** One id per call of one run: a retried reserve finds the reservation it made, a reset run makes new ones. */
export function reservationId(workflowId: string, runId: string, callIndex: number): string {
  return `${workflowId}/${runId.slice(0, 8)}/${callIndex}`;
}
