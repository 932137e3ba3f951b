import type { RoutingRule, RuleCondition } from '../../../domain/policy';
import type { RequestFeatures } from '../../../domain/results';
import type { RouteRequest } from '../../../domain/request';

export interface RuleMatch {
  rule: RoutingRule;
  /** Human-readable account of why the rule matched, for the decision's reason. */
  because: string;
}

type Check = (c: RuleCondition, r: RouteRequest, f: RequestFeatures) => string | false | undefined;

// Each check returns undefined when its condition is absent, false when it fails, or a phrase when it holds.
function check(present: boolean, holds: () => boolean, phrase: () => string): string | false | undefined {
  if (!present) return undefined;
  return holds() ? phrase() : false;
}

const CHECKS: Check[] = [
  (c, r) => check(!!c.taskType, () => c.taskType!.includes(r.taskType), () => `task type is ${r.taskType}`),
  (c, r) => check(!!c.domain, () => c.domain!.includes(r.domain), () => `domain is ${r.domain}`),
  (c, r, f) => check(!!c.domainRisk, () => c.domainRisk === f.domainRisk, () => `domain "${r.domain}" is ${f.domainRisk} risk`),
  (c, _r, f) =>
    check(
      c.fieldCountBelow !== undefined,
      () => f.fieldCount !== undefined && f.fieldCount < c.fieldCountBelow!,
      () => `${f.fieldCount} fields < ${c.fieldCountBelow}`,
    ),
  (c, _r, f) =>
    check(
      c.fieldCountAtLeast !== undefined,
      () => f.fieldCount !== undefined && f.fieldCount >= c.fieldCountAtLeast!,
      () => `${f.fieldCount} fields >= ${c.fieldCountAtLeast}`,
    ),
  (c, _r, f) =>
    check(
      c.promptTokensAbove !== undefined,
      () => f.promptTokens > c.promptTokensAbove!,
      () => `${f.promptTokens} prompt tokens > ${c.promptTokensAbove}`,
    ),
  (c, _r, f) =>
    check(
      c.historyTurnsAbove !== undefined,
      () => f.historyTurns > c.historyTurnsAbove!,
      () => `${f.historyTurns} history turns > ${c.historyTurnsAbove}`,
    ),
  (c, _r, f) =>
    check(
      c.reasoningMarkersAtLeast !== undefined,
      () => f.reasoningMarkers >= c.reasoningMarkersAtLeast!,
      () => `${f.reasoningMarkers} reasoning markers`,
    ),
  (c, r) => check(!!c.customerTier, () => c.customerTier!.includes(r.customerTier), () => `customer tier is ${r.customerTier}`),
  (c, r) =>
    check(!!c.timeSensitivity, () => c.timeSensitivity!.includes(r.timeSensitivity), () => `time sensitivity is ${r.timeSensitivity}`),
];

function explainMatch(condition: RuleCondition, request: RouteRequest, features: RequestFeatures): string | false {
  const phrases: string[] = [];
  for (const check of CHECKS) {
    const outcome = check(condition, request, features);
    if (outcome === false) return false;
    if (outcome) phrases.push(outcome);
  }
  return phrases.length > 0 ? phrases.join(' and ') : 'no earlier rule matched';
}

/** The first rule that matches, if any. */
export function findRule(rules: readonly RoutingRule[], request: RouteRequest, features: RequestFeatures): RuleMatch | undefined {
  for (const rule of rules) {
    const because = explainMatch(rule.when, request, features);
    if (because !== false) return { rule, because };
  }
  return undefined;
}

/** First match wins; a valid rules policy ends with a default rule, so there is always a match. */
export function matchRule(rules: readonly RoutingRule[], request: RouteRequest, features: RequestFeatures): RuleMatch {
  const match = findRule(rules, request, features);
  if (!match) throw new Error('no routing rule matched: the policy needs a default rule with an empty "when"');
  return match;
}
