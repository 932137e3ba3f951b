import type { Speculative } from '../domain/policy';
import type { RoutingDecision } from '../domain/results';
import { ValidationError } from '../domain/validation';
import { cheapestOfTier, type Rung } from './ladder';
import type { RoutePlan } from './plan';

/** What picking a partner needs of the plan. */
export interface PartnerLadder {
  ladder: readonly Rung[];
  bestModel: string;
}

/**
 * The model a policy's `speculative.partner` names on this ladder: the best model, the cheapest of a tier, or a
 * catalog model by id. A model that is not in the catalog is a configuration error on that field.
 */
export function speculativePartner(speculative: Speculative, plan: PartnerLadder): string {
  const { partner } = speculative;
  if (partner === 'best') return plan.bestModel;
  if ('tier' in partner) return cheapestOfTier(plan.ladder, partner.tier).id;
  if (!plan.ladder.some((r) => r.id === partner.model)) {
    const known = plan.ladder.map((r) => r.id).join(', ');
    throw new ValidationError('routing policy', [{ path: 'speculative.partner.model', message: `"${partner.model}" is not in the catalog (${known})` }]);
  }
  return partner.model;
}

/**
 * The race a decision calls for: only when its confidence is below the policy's bar and the partner is another
 * model than the routed one. The route activity and the offline evaluator both ask this.
 */
export function speculativeRace(
  speculative: Speculative | undefined,
  plan: PartnerLadder,
  decision: Pick<RoutingDecision, 'model' | 'confidence'>,
): RoutePlan['speculative'] {
  if (!speculative || !(decision.confidence < speculative.whenConfidenceBelow)) return undefined;
  const partner = speculativePartner(speculative, plan);
  if (partner === decision.model) return undefined;
  const confidence = Math.round(decision.confidence * 1000) / 1000;
  return { partner, prefer: speculative.prefer, reason: `${partner} raced beside ${decision.model} — confidence ${confidence} < ${speculative.whenConfidenceBelow}` };
}
