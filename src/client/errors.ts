/** A requestId reused for different content: joining the first run would return an answer to another question. */
export class RequestConflictError extends Error {
  constructor(
    readonly requestId: string,
    readonly workflowId: string,
  ) {
    super(`requestId "${requestId}" was already used for a different request (workflow ${workflowId}); a new request needs a new requestId`);
    this.name = 'RequestConflictError';
  }
}

/**
 * A routing workflow that failed for good (a non-retryable failure: an unknown policy, every model failed). The
 * message is the failure's own, which names what went wrong; `type` is its FailureType.
 */
export class RouteFailedError extends Error {
  constructor(
    message: string,
    readonly type: string,
    readonly workflowId: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RouteFailedError';
  }
}
