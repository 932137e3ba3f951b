import type { ClassifierArtefact } from '../../../domain/classifierArtefact';
import type { RouteRequest } from '../../../domain/request';
import type { RequestFeatures, RoutingDecision } from '../../../domain/results';
import { chooseByCost, describeChoice, type CostRuleOptions } from '../../costRule';
import type { Rung } from '../../ladder';
import { describeContributions, passProbabilitiesOfVector, requestVector, topFeaturesOfVector } from './predict';

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
  const x = requestVector(artefact, request, features);
  const p = passProbabilitiesOfVector(artefact, x);
  const known = new Map(artefact.catalog.map((m) => [m.id, m]));
  for (const r of ladder) if (!known.has(r.id)) throw new Error(`model "${r.id}" is on the ladder but not in the classifier's catalog; retrain the classifier for this catalog`);
  const { choice, rule } = chooseByCost(ladder, features, (id) => p[id]!, (id) => known.get(id)!.expectedOutputTokens, options, artefact.operatingPoint);
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
