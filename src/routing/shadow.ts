import type { Shadow } from '../domain/policy';
import { ValidationError } from '../domain/validation';
import { unitHash } from './hash';
import type { Rung } from './ladder';

/**
 * Whether a request of this policy is in the shadow sample: a hash of the policy and request ids against the rate,
 * so a retried or replayed workflow decides the same, and over many ids the sampled share is the rate. The policy
 * id is hashed in so that two policies sample independent subsets of the same request ids.
 */
export function inShadowSample(sampleRate: number, policyId: string, requestId: string): boolean {
  return sampleRate > 0 && unitHash('shadow', policyId, requestId) < sampleRate;
}

/**
 * Whether to run the shadow for an answered request: the policy shadows, the request is in its sample, and the kept
 * answer is not already the best model's (then there is nothing to compare, and nothing is run).
 */
export function shouldShadow(
  shadow: Pick<Shadow, 'sampleRate'> | undefined,
  request: { policyId: string; requestId: string },
  models: { kept: string; best: string },
): boolean {
  if (!shadow || models.kept === models.best) return false;
  return inShadowSample(shadow.sampleRate, request.policyId, request.requestId);
}

/** Which answer the blind judge sees first: a coin from the request id, the same on every retry. */
export function routedShownFirst(requestId: string): boolean {
  return unitHash('shadow-order', requestId) < 0.5;
}

/** Both answers in the order the judge sees them, and how to map its scores back. */
export function shuffledPair<T>(requestId: string, routed: T, best: T): { shown: [T, T]; routedShownFirst: boolean; unshuffle: (scores: [number, number]) => { routed: number; best: number } } {
  const first = routedShownFirst(requestId);
  return {
    shown: first ? [routed, best] : [best, routed],
    routedShownFirst: first,
    unshuffle: ([a, b]) => (first ? { routed: a, best: b } : { routed: b, best: a }),
  };
}

/** A policy's shadow judge must be a catalog model; checked at start-up like the other catalog references. */
export function checkShadowJudge(shadow: Shadow | undefined, ladder: readonly Rung[]): void {
  if (!shadow?.judgeModel || ladder.some((r) => r.id === shadow.judgeModel)) return;
  const known = ladder.map((r) => r.id).join(', ');
  throw new ValidationError('routing policy', [{ path: 'shadow.judgeModel', message: `"${shadow.judgeModel}" is not in the catalog (${known})` }]);
}
