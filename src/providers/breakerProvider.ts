import { CircuitBreaker, DEFAULT_CIRCUIT_BREAKER, type CircuitBreakerOptions, type UpstreamHealth } from './circuitBreaker';
import { ProviderError, type Completion, type CompletionRequest, type ModelProvider } from './types';

/**
 * A provider behind one circuit breaker per model, for the life of the worker: once a model keeps failing, its
 * calls fail fast with a retryable `unavailable` error instead of reaching the upstream, so neither Temporal's
 * retries nor the requests still arriving keep hammering an endpoint that is down. Judge calls go through the
 * same provider, so a judge model has its own breaker.
 */
export class CircuitBreakingProvider implements ModelProvider {
  readonly name: string;
  readonly bills: boolean;
  readonly maxOutputTokens?: number;
  private readonly breakers = new Map<string, CircuitBreaker>();

  constructor(
    private readonly inner: ModelProvider,
    private readonly options: CircuitBreakerOptions = DEFAULT_CIRCUIT_BREAKER,
    private readonly now: () => number = Date.now,
  ) {
    this.name = inner.name;
    this.bills = inner.bills;
    if (inner.maxOutputTokens !== undefined) this.maxOutputTokens = inner.maxOutputTokens;
  }

  async complete(request: CompletionRequest): Promise<Completion> {
    const breaker = this.breakerFor(request.model.id);
    const admission = breaker.admit();
    if (!admission.admitted) {
      throw new ProviderError('unavailable', `${this.name}: circuit breaker for ${request.model.id} is ${admission.reason}; not calling it`, { provider: this.name });
    }
    try {
      const completion = await this.inner.complete(request);
      breaker.record(admission, 'up');
      return completion;
    } catch (err) {
      breaker.record(admission, healthOf(err));
      throw err;
    }
  }

  private breakerFor(model: string): CircuitBreaker {
    let breaker = this.breakers.get(model);
    if (!breaker) {
      breaker = new CircuitBreaker(this.options, this.now);
      this.breakers.set(model, breaker);
    }
    return breaker;
  }
}

/** Failures that retrying with back-off is for count against the upstream; an answer of any kind shows it is up. */
function healthOf(err: unknown): UpstreamHealth {
  // Cancellation, or a bug of ours: nothing learnt about the upstream.
  if (!(err instanceof ProviderError)) return 'unknown';
  switch (err.kind) {
    case 'unavailable':
    case 'timeout':
    case 'malformed-response':
      return 'down';
    case 'invalid-request':
    case 'rate-limited':
      // It answered; a 429 has its own back-off (Retry-After), and a 4xx is not retried at all.
      return 'up';
  }
}
