import type { ClassifierArtefact } from '../../../domain/classifierArtefact';
import type { RouteRequest } from '../../../domain/request';
import type { RequestFeatures, RoutingDecision } from '../../../domain/results';
import { ValidationError } from '../../../domain/validation';
import { cascadePlanFor, type CascadePlan } from '../../cascade';
import { candidatesAndRule, chooseByThreshold, describeChoice, type CostRuleOptions } from '../../costRule';
import type { Rung } from '../../ladder';
import { describeContributions, passProbabilitiesOfVector, requestVector, topFeaturesOfVector } from './predict';

/** One request as the classifier sees it: its vector, every model's probability priced by the cost rule, the choice. */
export type PricedRequest = ReturnType<typeof priceRequest>;

/** The request's probabilities, priced by the cost rule: computed once, for the decision and for the cascade. */
export function priceRequest(artefact: ClassifierArtefact, ladder: readonly Rung[], request: Pick<RouteRequest, 'prompt' | 'history'>, features: RequestFeatures, options: CostRuleOptions = {}) {
  const x = requestVector(artefact, request, features);
  const p = passProbabilitiesOfVector(artefact, x);
  const known = new Map(artefact.catalog.map((m) => [m.id, m]));
  for (const r of ladder) if (!known.has(r.id)) throw new Error(`model "${r.id}" is on the ladder but not in the classifier's catalog; retrain the classifier for this catalog`);
  const { candidates, best, rule } = candidatesAndRule(ladder, features, (id) => p[id]!, (id) => known.get(id)!.expectedOutputTokens, options, artefact.operatingPoint);
  return { x, candidates, best, rule, choice: chooseByThreshold(candidates, best.id, rule) };
}

/** The cascade's plan for the request: the same probabilities and prices as the decision, and the learnt evidence. */
export function cascadeOfPriced(artefact: ClassifierArtefact, { candidates, best, rule }: PricedRequest): CascadePlan {
  if (!artefact.cascade) throw new ValidationError('classifier artefact', [{ path: 'cascade', message: 'is missing: retrain the artefact to escalate by "cascade"' }]);
  return cascadePlanFor(candidates, best.id, rule, artefact.cascade);
}

/**
 * Routes by the trained classifier: calibrated pass probabilities per model, the cost-derived threshold rule above.
 * The artefact's catalog must have been checked against the router's (assertArtefactMatchesCatalog) when loaded.
 */
export function routeByClassifier(
  artefact: ClassifierArtefact,
  ladder: readonly Rung[],
  request: Pick<RouteRequest, 'prompt' | 'history'>,
  features: RequestFeatures,
  options: CostRuleOptions = {},
): RoutingDecision {
  return decisionOfPriced(artefact, ladder, priceRequest(artefact, ladder, request, features, options));
}

/** The decision, with its reason, from a priced request. */
export function decisionOfPriced(artefact: ClassifierArtefact, ladder: readonly Rung[], { x, choice, rule }: PricedRequest): RoutingDecision {
  const top = topFeaturesOfVector(artefact, x, choice.model, 3);
  return {
    model: choice.model,
    confidence: choice.passProbability,
    confidenceAdjustment: choice.passProbability - choice.threshold,
    alternatives: ladder.filter((r) => r.id !== choice.model).map((r) => r.id),
    reason: `classifier: ${describeChoice(choice, rule)}; top features for ${choice.model}: ${describeContributions(top) || 'none'}`,
    strategy: 'classifier',
    policyVersion: artefact.policyVersion,
    propensity: 1,
  };
}
