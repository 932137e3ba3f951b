/**
 * The failure types the router raises as Temporal ApplicationFailures, named once for the activities that throw
 * them, the workflows that retry (or do not retry) them, and the callers that read `failure.type`.
 */
export const FailureType = {
  /** The provider (or the gate) refused the request as malformed: a 4xx other than 429. */
  InvalidRequest: 'InvalidRequest',
  UnknownModel: 'UnknownModel',
  UnknownPolicy: 'UnknownPolicy',
  /** Input that breaks a contract (a RouteRequest from an older history, an admin change). */
  ValidationError: 'ValidationError',
  RateLimited: 'RateLimited',
  ProviderTimeout: 'ProviderTimeout',
  MalformedResponse: 'MalformedResponse',
  ProviderUnavailable: 'ProviderUnavailable',
  /** Every model on the request's ladder failed for good. */
  AllModelsFailed: 'AllModelsFailed',
  /** The tenant's budget cannot cover the request's first call (OpenAI's `insufficient_quota`). */
  InsufficientQuota: 'InsufficientQuota',
  /** The tenant's budget could not be reached to reserve the request's first call. */
  BudgetUnavailable: 'BudgetUnavailable',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** Failures that no retry can fix; everything else is retried with back-off. */
export const NON_RETRYABLE_FAILURES: readonly FailureType[] = [
  FailureType.InvalidRequest,
  FailureType.UnknownModel,
  FailureType.UnknownPolicy,
  FailureType.ValidationError,
  FailureType.InsufficientQuota,
];
