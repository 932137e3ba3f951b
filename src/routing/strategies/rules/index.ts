import type { StrategyDefinition } from '../types';
import { RulesPolicySchema, type RulesPolicy } from './policy';
import { checkRuleTargets, routeByRules } from './route';

export { RulesPolicySchema, type RulesPolicy } from './policy';
export { findRule, matchRule, type RuleMatch } from './match';
export { checkRuleTargets, decisionOfRule, routeByRules, rulesChoice } from './route';

/** Ordered, declarative rules: first match wins, the decision names the rule and why it fired. */
export const rulesStrategy: StrategyDefinition<RulesPolicy, typeof RulesPolicySchema> = {
  name: 'rules',
  summary: 'ordered declarative rules (config JSON); first match wins; every decision names its rule',
  policySchema: RulesPolicySchema,
  check: (policy, env) => checkRuleTargets(policy.rules, env.ladder),
  create: (policy, env) => ({
    decide: ({ request, features }) => routeByRules(policy, env.ladder, request, features),
  }),
};
