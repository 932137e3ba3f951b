/**
 * Token buckets, one per tenant, in this process: each holds up to `burst` requests and refills at
 * requestsPerMinute ÷ 60 a second. Several gateway replicas each keep their own buckets (a tenant's limit is per
 * replica); budgets, which must hold across replicas, live in Temporal instead.
 */

export interface RateLimit {
  requestsPerMinute: number;
  burst?: number;
}

export type RateDecision = { allowed: true; remaining: number } | { allowed: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>();

  /** `now` in milliseconds; injectable so tests step time instead of sleeping. */
  constructor(private readonly now: () => number = Date.now) {}

  /** Takes one token from `key`'s bucket, or says how many whole seconds until one is there. */
  take(key: string, limit: RateLimit): RateDecision {
    const capacity = limit.burst ?? limit.requestsPerMinute;
    const perMs = limit.requestsPerMinute / 60_000;
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: capacity, at: now };
    // A clock that steps back refills nothing; a lowered limit caps what was saved under the old one.
    const tokens = Math.min(capacity, bucket.tokens + Math.max(0, now - bucket.at) * perMs);
    if (tokens >= 1) {
      this.buckets.set(key, { tokens: tokens - 1, at: now });
      return { allowed: true, remaining: Math.floor(tokens - 1) };
    }
    this.buckets.set(key, { tokens, at: now });
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / perMs / 1000)) };
  }
}
