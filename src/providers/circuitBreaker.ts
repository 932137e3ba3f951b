/**
 * A circuit breaker for one upstream (a provider's model): after `failureThreshold` consecutive failures, each
 * within `windowMs` of the previous one, it opens and refuses calls for `coolDownMs`; then it lets one probe
 * through (half-open) and closes again if the probe gets an answer. Pure: time comes from the `now` parameter.
 */

export interface CircuitBreakerOptions {
  failureThreshold: number;
  /** Failures further apart than this do not add up: the count starts again. */
  windowMs: number;
  /** How long an open circuit refuses calls before it lets a probe through. */
  coolDownMs: number;
}

/** Five failures is one activity's retry budget: a single request that exhausts it opens the circuit. */
export const DEFAULT_CIRCUIT_BREAKER: CircuitBreakerOptions = { failureThreshold: 5, windowMs: 60_000, coolDownMs: 30_000 };

export type CircuitState = 'closed' | 'open' | 'half-open';

/** What a finished call says about the upstream's health. */
export type UpstreamHealth = 'up' | 'down' | 'unknown';

export type Admission = { admitted: true; probe: boolean } | { admitted: false; reason: string };

export class CircuitBreaker {
  private circuit: CircuitState = 'closed';
  private failures = 0;
  private lastFailureAt = -Infinity;
  private openedAt = 0;
  private probing = false;

  constructor(
    private readonly options: CircuitBreakerOptions,
    private readonly now: () => number = Date.now,
  ) {
    const { failureThreshold, windowMs, coolDownMs } = options;
    if (!(Number.isInteger(failureThreshold) && failureThreshold >= 1)) throw new RangeError(`failureThreshold must be a whole number >= 1, got ${failureThreshold}`);
    if (!(windowMs > 0) || !(coolDownMs > 0)) throw new RangeError(`windowMs and coolDownMs must be > 0, got ${windowMs} and ${coolDownMs}`);
  }

  get state(): CircuitState {
    return this.circuit;
  }

  /** Whether a call may go upstream now; an admitted call must be followed by exactly one `record`. */
  admit(): Admission {
    if (this.circuit === 'open') {
      const waitedMs = this.now() - this.openedAt;
      if (waitedMs < this.options.coolDownMs) {
        return { admitted: false, reason: `open after ${this.failures} consecutive failures, next probe in ${Math.ceil((this.options.coolDownMs - waitedMs) / 1000)} s` };
      }
      this.circuit = 'half-open';
    }
    if (this.circuit === 'half-open') {
      if (this.probing) return { admitted: false, reason: 'half-open, a probe call is in flight' };
      this.probing = true;
      return { admitted: true, probe: true };
    }
    return { admitted: true, probe: false };
  }

  record(admission: { probe: boolean }, health: UpstreamHealth): void {
    if (admission.probe) {
      this.probing = false;
      if (health === 'up') this.close();
      else if (health === 'down') this.open();
      // 'unknown' (the probe was cancelled, say): still half-open, the next call probes.
      return;
    }
    // A call admitted before the circuit opened tells nothing the probe will not.
    if (this.circuit !== 'closed' || health === 'unknown') return;
    if (health === 'up') {
      this.failures = 0;
      return;
    }
    const at = this.now();
    if (at - this.lastFailureAt > this.options.windowMs) this.failures = 0;
    this.failures += 1;
    this.lastFailureAt = at;
    if (this.failures >= this.options.failureThreshold) this.open();
  }

  private open(): void {
    this.circuit = 'open';
    this.openedAt = this.now();
  }

  private close(): void {
    this.circuit = 'closed';
    this.failures = 0;
    this.lastFailureAt = -Infinity;
  }
}
