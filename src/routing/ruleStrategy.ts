import type { RulesPolicy } from '../domain/policy';
import type { RouteRequest } from '../domain/request';
import type { RequestFeatures, RoutingDecision } from '../domain/results';
import { cheapestOfTier, type Rung } from './ladder';
import { matchRule } from './rules';

/** Routes by the policy's first matching rule; the decision names the rule and why it fired. */
export function routeByRules(
  policy: RulesPolicy,
  ladder: readonly Rung[],
  request: RouteRequest,
  features: RequestFeatures,
): RoutingDecision {
  const { rule, because } = matchRule(policy.rules, request, features);
  const target =
    'tier' in rule.route ? cheapestOfTier(ladder, rule.route.tier) : ladder.find((r) => 'model' in rule.route && r.id === rule.route.model);
  if (!target) throw new Error(`rule "${rule.id}" routes to a model that is not in the catalog`);
  return {
    model: target.id,
    confidence: rule.confidence,
    confidenceAdjustment: 0,
    alternatives: ladder.filter((r) => r.id !== target.id).map((r) => r.id),
    reason: `rule "${rule.id}" fired because ${because}: ${rule.description}`,
    strategy: 'rules',
    ruleId: rule.id,
    policyVersion: policy.version,
  };
}
