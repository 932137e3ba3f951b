import type { RoutingRule } from '../../../domain/policy';
import { ValidationError } from '../../../domain/validation';
import type { RouteRequest } from '../../../domain/request';
import type { RequestFeatures, RoutingDecision } from '../../../domain/results';
import { cheapestOfTier, type Rung } from '../../ladder';
import { matchRule, type RuleMatch } from './match';

/** Routes by the policy's first matching rule; the decision names the rule and why it fired. */
export function routeByRules(
  policy: { rules: readonly RoutingRule[]; version: string },
  ladder: readonly Rung[],
  request: RouteRequest,
  features: RequestFeatures,
): RoutingDecision {
  return decisionOfRule(matchRule(policy.rules, request, features), ladder, policy.version, 'rules');
}

/** The decision a matched rule makes: its target, its confidence, and why it fired. */
export function decisionOfRule({ rule, because }: RuleMatch, ladder: readonly Rung[], policyVersion: string, strategy: string): RoutingDecision {
  const target =
    'tier' in rule.route ? cheapestOfTier(ladder, rule.route.tier) : ladder.find((r) => 'model' in rule.route && r.id === rule.route.model);
  if (!target) throw new Error(`rule "${rule.id}" routes to a model that is not in the catalog`);
  return {
    model: target.id,
    confidence: rule.confidence,
    confidenceAdjustment: 0,
    alternatives: ladder.filter((r) => r.id !== target.id).map((r) => r.id),
    reason: `rule "${rule.id}" fired because ${because}: ${rule.description}`,
    strategy,
    ruleId: rule.id,
    policyVersion,
    propensity: 1,
  };
}

/** A rule naming a model the catalog lacks would fail every request it matches: refused at start-up. */
export function checkRuleTargets(rules: readonly RoutingRule[], ladder: readonly Rung[], path = 'rules'): void {
  rules.forEach((rule, i) => {
    const model = 'model' in rule.route ? rule.route.model : undefined;
    if (model !== undefined && !ladder.some((r) => r.id === model)) {
      throw new ValidationError('routing policy', [{ path: `${path}.${i}.route.model`, message: `"${model}" is not in the catalog` }]);
    }
  });
}

/** What the rules would have chosen for a logged request, from the features the decision log keeps. */
export function rulesChoice(policy: { rules: readonly RoutingRule[]; version: string }, ladder: readonly Rung[], log: { requestId: string; requestFeatures: RequestFeatures }): string {
  const f = log.requestFeatures;
  // Rules read the request's task type, domain, customer tier and time sensitivity, all of which the features keep.
  const request = { requestId: log.requestId, prompt: '', history: [], taskType: f.taskType, domain: f.domain, customerTier: f.customerTier, timeSensitivity: f.timeSensitivity } as unknown as RouteRequest;
  return routeByRules(policy, ladder, request, f).model;
}
