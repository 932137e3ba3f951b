import { RequestConflictError, RouteFailedError } from '../client/errors';
import { ValidationError } from '../domain/validation';

/**
 * Errors in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, with OpenAI's status codes, so the
 * official clients raise their own error classes (BadRequestError, AuthenticationError, RateLimitError, ...).
 */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class GatewayError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'GatewayError';
  }

  body(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** OpenAI's clients obey this header over their own retry rule (they retry 408, 409, 429 and 5xx otherwise). */
export const DO_NOT_RETRY: Readonly<Record<string, string>> = { 'x-should-retry': 'false' };

export const invalidRequest = (message: string, param: string | null, code: string | null = null) => new GatewayError(400, message, 'invalid_request_error', code, param);

export const unknownModel = (model: string, known: readonly string[]) =>
  new GatewayError(404, `The model "${model}" does not exist (known: ${known.join(', ')})`, 'invalid_request_error', 'model_not_found', 'model');

/** gRPC UNAVAILABLE (14) anywhere in the cause chain: the Temporal service cannot be reached. */
export function isTemporalUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if ((e as { code?: unknown }).code === 14) return true;
  }
  return false;
}

/** Where a RouteRequest field came from in the chat body, for `param`. */
function chatParam(path: string, lastMessage: number): string {
  const [head, index, ...rest] = path.split('.');
  if (head === 'prompt') return `messages[${lastMessage}].content`;
  if (head === 'history' && index !== undefined) return `messages[${index}]${rest.map((r) => `.${r}`).join('')}`;
  if (['taskType', 'domain', 'fieldCount', 'customerTier', 'timeSensitivity'].includes(head ?? '')) return `metadata.${head}`;
  if (head === 'requestId') return 'Idempotency-Key';
  return path;
}

/** What a caller of the gateway is told when routing throws `err`; `lastMessage` locates the prompt. */
export function gatewayErrorOf(err: unknown, lastMessage: number): GatewayError {
  if (err instanceof GatewayError) return err;
  if (err instanceof ValidationError) {
    const first = err.issues[0];
    return invalidRequest(err.issues.map((i) => `${chatParam(i.path, lastMessage)}: ${i.message}`).join('; '), first ? chatParam(first.path, lastMessage) : null);
  }
  if (err instanceof RequestConflictError) {
    return new GatewayError(409, `Idempotency-Key "${err.requestId}" was already used for a different request; a new request needs a new key`, 'invalid_request_error', 'idempotency_key_reused', 'Idempotency-Key');
  }
  if (err instanceof RouteFailedError) {
    switch (err.type) {
      case 'InsufficientQuota':
        // A 429 the client would retry at once, to the same refusal: the budget frees up only as the day goes on.
        return new GatewayError(429, `You exceeded your current quota: ${err.message}`, 'insufficient_quota', 'insufficient_quota', null, DO_NOT_RETRY);
      case 'BudgetUnavailable':
        // Nothing was called: without the budget the money cannot be promised. Safe to retry with the same key.
        return new GatewayError(503, `${err.message}; retry later`, 'server_error', 'budget_unavailable');
      case 'UnknownModel':
        return new GatewayError(404, err.message, 'invalid_request_error', 'model_not_found', 'model');
      case 'InvalidRequest':
      case 'ValidationError':
        return invalidRequest(err.message, null);
      case 'AllModelsFailed':
        // Every model was tried, with retries and escalations: an SDK retry at once would pay for the ladder again.
        return new GatewayError(502, err.message, 'server_error', 'all_models_failed', null, DO_NOT_RETRY);
      default:
        return new GatewayError(500, err.message, 'server_error', err.type);
    }
  }
  if (isTemporalUnavailable(err)) return temporalUnavailable(err);
  return new GatewayError(500, 'The gateway failed to route the request; see its log', 'server_error', null);
}

export function temporalUnavailable(err: unknown): GatewayError {
  const detail = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return new GatewayError(503, `Temporal is unreachable (${detail}); retry later: with the same Idempotency-Key a retry never runs the request twice`, 'server_error', 'temporal_unavailable');
}
