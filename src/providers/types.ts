import type { ModelSpec } from '../domain/catalog';
import type { HistoryTurn, OutputSchema, TaskType } from '../domain/request';
import type { AnswerOrigin } from '../domain/results';

/** What a provider needs to answer one model call. */
export interface CompletionRequest {
  requestId: string;
  /** 1 for the first try of this activity, counting Temporal's retries. */
  attempt: number;
  model: ModelSpec;
  prompt: string;
  history: HistoryTurn[];
  taskType: TaskType;
  domain: string;
  expectedOutputTokens: number;
  /** The caller's cap on this call's output (the request's maxOutputTokens): sent as `max_tokens`, never exceeded. */
  maxOutputTokens?: number;
  outputSchema?: OutputSchema;
  /**
   * Stable per (request, model, attempt series): the same on every retry of one call, so a provider that honours
   * idempotency keys answers a repeated call from its cache instead of billing it again.
   */
  idempotencyKey?: string;
  /** Aborted when Temporal cancels the activity or its timeout passes. */
  signal?: AbortSignal;
  /**
   * For a provider that streams: the usage so far, as the provider reports it. A call cancelled mid-answer (the
   * loser of a speculative race) is priced from the last report; without one its cost is an estimate.
   */
  onUsage?: (usage: { inputTokens: number; outputTokens: number }) => void;
}

export interface Completion {
  text: string;
  inputTokens: number;
  outputTokens: number;
  latencyMs: number;
  origin: AnswerOrigin;
  /** Quality recorded or simulated for this answer, 0..1; live providers leave it out. */
  recordedQuality?: number;
  /** What this answer cost when it was recorded (replay); when set it is the call's cost instead of pricing tokens. */
  recordedCostUsd?: number;
}

/** One adapter per provider; adding one never touches the workflows. */
export interface ModelProvider {
  readonly name: string;
  /**
   * Whether a call costs real money. A repeated attempt of a billing provider is recorded as possibly billed;
   * a simulated or replayed model bills nothing.
   */
  readonly bills: boolean;
  /** The most output one call can produce, when the provider caps it (`max_tokens`); bounds the possibly-billed estimate. */
  readonly maxOutputTokens?: number;
  complete(request: CompletionRequest): Promise<Completion>;
}

export type ProviderErrorKind =
  /** The request itself is wrong (HTTP 4xx other than 408/429): retrying cannot help. */
  | 'invalid-request'
  /** HTTP 429: retry after `retryAfterMs` when the provider says so. */
  | 'rate-limited'
  /** HTTP 5xx, connection refused or reset: retry with back-off. */
  | 'unavailable'
  /** No answer in time. */
  | 'timeout'
  /** An answer that does not follow the wire format. */
  | 'malformed-response';

export class ProviderError extends Error {
  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    readonly details: { status?: number; retryAfterMs?: number; provider?: string } = {},
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}
