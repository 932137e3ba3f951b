import { nextStep } from '../src/routing/escalation';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import catalogJson from '../config/catalog.json';
import defaultPolicyJson from '../config/default-policy.json';
import { CatalogSchema, type ModelSpec } from '../src/domain/catalog';
import { RulesPolicySchema, routeByRules, type RulesPolicy } from '../src/routing/strategies/rules';
import { RouteRequestSchema, type RouteRequest, type RouteRequestInput } from '../src/domain/request';
import type { Attempt, QualityVerdict, RoutingDecision } from '../src/domain/results';
import { buildDecisionLog, learningOutcome } from '../src/routing/decisionLog';
import { extractFeatures } from '../src/routing/features';
import { bestModel, cheapestOfTier, escalationLadder, nextStronger, type Rung } from '../src/routing/ladder';
import type { RoutePlan } from '../src/routing/plan';
import { speculativePartner, speculativeRace } from '../src/routing/speculative';
import { ValidationError } from '../src/domain/validation';
import { testCatalog } from './helpers/catalog';

const catalog = CatalogSchema.parse(catalogJson);
const policy = RulesPolicySchema.parse(defaultPolicyJson);
const ladder = escalationLadder(catalog.models);

function request(overrides: Partial<RouteRequestInput> = {}): RouteRequest {
  return RouteRequestSchema.parse({ requestId: 'core-1', prompt: 'Sort this ticket into a queue: "my card was charged twice"', ...overrides });
}

function route(overrides: Partial<RouteRequestInput>, p: RulesPolicy = policy, l: readonly Rung[] = ladder): RoutingDecision {
  const r = request(overrides);
  return routeByRules(p, l, r, extractFeatures(r));
}

function rulePolicy(rules: unknown[]): RulesPolicy {
  return RulesPolicySchema.parse({ id: 'hand-made', version: 'v-test', strategy: 'rules', gate: { threshold: 0.9 }, maxEscalations: 1, rules });
}

describe('default policy (config/default-policy.json) on representative requests', () => {
  // config/catalog.json: gpt-4o-mini is the only small model, gpt-4.1-mini the medium, gpt-4o the large.
  it('classification goes to the small tier by classification-small', () => {
    const d = route({ taskType: 'classification' });
    assert.equal(d.model, 'gpt-4o-mini');
    assert.equal(d.ruleId, 'classification-small');
    assert.equal(d.confidence, 0.85);
    assert.equal(d.strategy, 'rules');
    assert.equal(d.policyVersion, 'rules-2026-11-25');
    assert.deepEqual(d.alternatives, ['gpt-4.1-mini', 'gpt-4o']);
    assert.equal(
      d.reason,
      'rule "classification-small" fired because task type is classification: Classification has a short, checkable answer that small models get right.',
    );
  });

  it('extraction of 3 fields goes to the small tier by small-extraction-small', () => {
    const d = route({ taskType: 'extraction', fieldCount: 3 });
    assert.equal(d.model, 'gpt-4o-mini');
    assert.equal(d.ruleId, 'small-extraction-small');
    assert.equal(d.confidence, 0.8);
    assert.match(d.reason, /^rule "small-extraction-small" fired because task type is extraction and 3 fields < 5: /);
  });

  it('extraction of 7 fields falls through to default-large', () => {
    const d = route({ taskType: 'extraction', fieldCount: 7 });
    assert.equal(d.model, 'gpt-4o');
    assert.equal(d.ruleId, 'default-large');
    assert.equal(d.confidence, 0.7);
    assert.deepEqual(d.alternatives, ['gpt-4o-mini', 'gpt-4.1-mini']);
    assert.match(d.reason, /^rule "default-large" fired because no earlier rule matched: Anything else goes to the strong tier/);
  });

  it('extraction at the boundary (5 fields) and without a field count is not "fewer than 5"', () => {
    assert.equal(route({ taskType: 'extraction', fieldCount: 5 }).ruleId, 'default-large');
    assert.equal(route({ taskType: 'extraction', fieldCount: 4 }).ruleId, 'small-extraction-small');
    assert.equal(route({ taskType: 'extraction' }).ruleId, 'default-large');
  });

  it('reasoning goes to the large tier by reasoning-large', () => {
    const d = route({ taskType: 'reasoning', prompt: 'Why does the queue back up every Monday?' });
    assert.equal(d.model, 'gpt-4o');
    assert.equal(d.ruleId, 'reasoning-large');
    assert.match(d.reason, /^rule "reasoning-large" fired because task type is reasoning: Multi-step reasoning/);
  });

  for (const domain of ['medical', 'legal', ' Legal ', 'MEDICAL']) {
    it(`a "${domain}" classification goes to the large tier by high-risk-domain-large`, () => {
      const d = route({ taskType: 'classification', domain });
      assert.equal(d.model, 'gpt-4o');
      assert.equal(d.ruleId, 'high-risk-domain-large');
      assert.equal(d.confidence, 0.9);
      const normalised = domain.trim().toLowerCase();
      assert.match(d.reason, new RegExp(`^rule "high-risk-domain-large" fired because domain "${normalised}" is high risk: High-risk domains`));
    });
  }

  it('a healthcare or finance classification is high risk too and goes to the large tier', () => {
    for (const domain of ['healthcare', 'finance']) {
      const d = route({ taskType: 'classification', domain });
      assert.equal(d.ruleId, 'high-risk-domain-large', domain);
      assert.equal(d.model, 'gpt-4o');
    }
  });

  it('an extraction without fieldCount counts the fields of its output schema', () => {
    const properties = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, { type: 'string' as const }]));
    const small = route({ taskType: 'extraction', outputSchema: { type: 'object', properties: properties(2) } });
    assert.equal(small.ruleId, 'small-extraction-small');
    assert.match(small.reason, /2 fields < 5/);
    const large = route({ taskType: 'extraction', outputSchema: { type: 'object', properties: properties(6) } });
    assert.equal(large.ruleId, 'default-large');
  });

  it('generation goes to default-large', () => {
    const d = route({ taskType: 'generation', prompt: 'Write a friendly reply to a customer whose parcel is late.' });
    assert.equal(d.model, 'gpt-4o');
    assert.equal(d.ruleId, 'default-large');
  });

  it('routes the small tier to the cheapest small model when there are several', () => {
    const extra: ModelSpec = { ...catalog.models[0]!, id: 'tiny-cheap', inputUsdPer1M: 0.05, outputUsdPer1M: 0.1 };
    const d = route({ taskType: 'classification' }, policy, escalationLadder([...catalog.models, extra]));
    assert.equal(d.model, 'tiny-cheap');
    assert.deepEqual(d.alternatives, ['gpt-4o-mini', 'gpt-4.1-mini', 'gpt-4o']);
  });
});

describe('rule engine', () => {
  const rules = [
    { id: 'premium-large', description: 'Premium customers get the strong tier.', when: { customerTier: ['premium'] }, route: { tier: 'large' } },
    { id: 'short-classification', description: 'Short classification is easy.', when: { taskType: ['classification'], promptTokensAbove: 0 }, route: { tier: 'small' } },
    { id: 'any-classification', description: 'Every classification.', when: { taskType: ['classification'] }, route: { tier: 'medium' } },
    { id: 'fallback', description: 'Default.', when: {}, route: { tier: 'medium' }, confidence: 0.5 },
  ];

  it('first match wins: an earlier matching rule shadows a later one', () => {
    const p = rulePolicy(rules);
    // Premium AND classification: both premium-large and short-classification match; the first listed wins.
    const d = route({ taskType: 'classification', customerTier: 'premium' }, p);
    assert.equal(d.ruleId, 'premium-large');
    assert.equal(d.model, 'gpt-4o');
    // The same request with the rules reversed (default kept last) goes to the other rule.
    const reversed = rulePolicy([rules[2], rules[1], rules[0], rules[3]]);
    assert.equal(route({ taskType: 'classification', customerTier: 'premium' }, reversed).ruleId, 'any-classification');
  });

  it('all conditions of a rule must hold; a failing one passes the request on', () => {
    const p = rulePolicy(rules);
    const d = route({ taskType: 'classification', customerTier: 'standard' }, p);
    assert.equal(d.ruleId, 'short-classification');
    assert.equal(d.model, 'gpt-4o-mini');
    // The rule's default confidence (0.8) applies when the rule gives none.
    assert.equal(d.confidence, 0.8);
    // The default prompt is 58 characters: ceil(58 / 4) = 15 tokens.
    assert.match(d.reason, /because task type is classification and 15 prompt tokens > 0: Short classification is easy\.$/);
    const other = route({ taskType: 'qa' }, p);
    assert.equal(other.ruleId, 'fallback');
    assert.equal(other.model, 'gpt-4.1-mini');
    assert.equal(other.confidence, 0.5);
  });

  it('a rule can route to one named model, whatever its tier', () => {
    const p = rulePolicy([
      { id: 'code-to-medium', description: 'Code goes to the medium model by name.', when: { taskType: ['code'] }, route: { model: 'gpt-4.1-mini' } },
      { id: 'fallback', description: 'Default.', when: {}, route: { model: 'gpt-4o-mini' } },
    ]);
    const d = route({ taskType: 'code', prompt: 'Fix the off-by-one in this loop.' }, p);
    assert.equal(d.model, 'gpt-4.1-mini');
    assert.equal(d.ruleId, 'code-to-medium');
    assert.deepEqual(d.alternatives, ['gpt-4o-mini', 'gpt-4o']);
    assert.equal(route({ taskType: 'generation' }, p).model, 'gpt-4o-mini');
  });

  it('a rule naming a model missing from the ladder is an error, not a silent fallback', () => {
    const p = rulePolicy([{ id: 'ghost', description: 'Names a model that is gone.', when: {}, route: { model: 'gpt-3' } }]);
    assert.throws(() => route({}, p), /rule "ghost" routes to a model that is not in the catalog/);
  });
});

describe('escalation ladder', () => {
  const timeouts = { startToCloseMs: 1_000, scheduleToCloseMs: 10_000 };
  const spec = (id: string, tier: number, tierName: 'small' | 'medium' | 'large', input: number, output: number): ModelSpec => ({
    id,
    provider: 'sim',
    tier,
    tierName,
    inputUsdPer1M: input,
    outputUsdPer1M: output,
    contextWindow: 100_000,
    timeouts,
  });
  // Listed out of order on purpose. Summed prices: large-premium 20, small-b 2, medium 2.0, small-a 0.5, large-std 12.5.
  const models = [
    spec('large-premium', 3, 'large', 5, 15),
    spec('small-b', 1, 'small', 1, 1),
    spec('medium', 2, 'medium', 0.4, 1.6),
    spec('small-a', 1, 'small', 0.1, 0.4),
    spec('large-std', 3, 'large', 2.5, 10),
  ];
  const l = escalationLadder(models);

  it('orders by tier, then by price within a tier', () => {
    assert.deepEqual(
      l.map((r) => r.id),
      ['small-a', 'small-b', 'medium', 'large-std', 'large-premium'],
    );
    // A rung keeps what the workflow needs and nothing provider-specific.
    assert.deepEqual(l[0], { id: 'small-a', tier: 1, tierName: 'small', inputUsdPer1M: 0.1, outputUsdPer1M: 0.4, timeouts });
  });

  it('nextStronger is the cheapest model of the next tier, undefined at the top', () => {
    // small-a and small-b share tier 1, so escalating from either skips the other.
    assert.equal(nextStronger(l, 'small-a')?.id, 'medium');
    assert.equal(nextStronger(l, 'small-b')?.id, 'medium');
    assert.equal(nextStronger(l, 'medium')?.id, 'large-std');
    assert.equal(nextStronger(l, 'large-std'), undefined);
    assert.equal(nextStronger(l, 'large-premium'), undefined);
    assert.throws(() => nextStronger(l, 'nope'), /model "nope" is not on the escalation ladder/);
  });

  it('bestModel is the priciest model of the top tier', () => {
    assert.equal(bestModel(l).id, 'large-premium');
    // A pricier model on a lower tier does not count: tier comes first.
    const withPriceySmall = escalationLadder([...models, spec('small-pricey', 1, 'small', 50, 50)]);
    assert.equal(bestModel(withPriceySmall).id, 'large-premium');
    assert.equal(bestModel(ladder).id, 'gpt-4o');
    assert.throws(() => bestModel([]), /escalation ladder is empty/);
  });

  it('cheapestOfTier takes the named tier, else the nearest stronger one, else the best model', () => {
    assert.equal(cheapestOfTier(l, 'small').id, 'small-a');
    assert.equal(cheapestOfTier(l, 'large').id, 'large-std');
    const noMedium = escalationLadder(models.filter((m) => m.tierName !== 'medium'));
    assert.equal(cheapestOfTier(noMedium, 'medium').id, 'large-std');
    const noSmall = escalationLadder(models.filter((m) => m.tierName !== 'small'));
    assert.equal(cheapestOfTier(noSmall, 'small').id, 'medium');
    // Nothing at or above "large": the strongest model there is.
    const smallOnly = escalationLadder(models.filter((m) => m.tierName === 'small'));
    assert.equal(cheapestOfTier(smallOnly, 'large').id, 'small-b');
  });
});

describe('features on tricky inputs', () => {
  it('empty history: no turns and no history tokens', () => {
    // 'abcdefgh' is 8 characters: 2 tokens; the empty history adds ceil(0 / 4) = 0.
    const f = extractFeatures(request({ prompt: 'abcdefgh', history: [] }));
    assert.equal(f.historyTurns, 0);
    assert.equal(f.promptTokens, 2);
  });

  it('history tokens are counted on the joined turns', () => {
    // prompt 'abcde' -> ceil(5/4) = 2; history 'abcd\nefgh' is 9 characters -> ceil(9/4) = 3.
    const f = extractFeatures(request({ prompt: 'abcde', history: [{ role: 'user', content: 'abcd' }, { role: 'assistant', content: 'efgh' }] }));
    assert.equal(f.historyTurns, 2);
    assert.equal(f.promptTokens, 5);
  });

  it('unicode and emoji prompts are estimated on UTF-16 length ÷ 4', () => {
    // Each emoji is a surrogate pair (2 code units): 4 emoji = 8 units -> 2 tokens.
    assert.equal(extractFeatures(request({ prompt: '😀😀😀😀' })).promptTokens, 2);
    // 'Grüße' is 5 code units (precomposed ü and ß), ' ' 1, '日本語' 3, ' ' 1, '👍' 2: 12 units -> 3 tokens.
    assert.equal(extractFeatures(request({ prompt: 'Grüße 日本語 👍' })).promptTokens, 3);
  });

  it('counts reasoning markers case-insensitively and only as whole words', () => {
    // WHY, Explain, step-by-step, Compare, TRADE-OFFS = 5; "reasonable" and "whyever" are not markers.
    const f = extractFeatures(request({ prompt: 'WHY does it stall? Explain step-by-step, Compare the TRADE-OFFS. A reasonable whyever.' }));
    assert.equal(f.reasoningMarkers, 5);
    assert.equal(extractFeatures(request({ prompt: 'Diagnosis: ANALYSE this.' })).reasoningMarkers, 2);
    assert.equal(extractFeatures(request({ prompt: 'Tag this ticket.' })).reasoningMarkers, 0);
  });

  it('only the listed domains are high risk: an alias is not', () => {
    assert.equal(extractFeatures(request({ domain: 'medicine' })).domainRisk, 'low');
    assert.equal(extractFeatures(request({ domain: 'law' })).domainRisk, 'low');
    assert.equal(extractFeatures(request({ domain: 'Healthcare' })).domainRisk, 'high');
    assert.equal(extractFeatures(request({ domain: 'legal' })).domainRisk, 'high');
    assert.equal(extractFeatures(request({})).domain, 'general');
  });

  it('expectedOutputTokens defaults by task, and the caller’s value wins', () => {
    assert.equal(extractFeatures(request({ taskType: 'classification' })).expectedOutputTokens, 8);
    assert.equal(extractFeatures(request({ taskType: 'extraction' })).expectedOutputTokens, 120);
    assert.equal(extractFeatures(request({ taskType: 'generation' })).expectedOutputTokens, 500);
    assert.equal(extractFeatures(request({})).expectedOutputTokens, 250); // taskType defaults to "other"
    assert.equal(extractFeatures(request({ taskType: 'generation', expectedOutputTokens: 42 })).expectedOutputTokens, 42);
  });

  it('complexity weighs markers, size, turns, output and risk', () => {
    // 'Why? Explain. Prove it.' = 23 chars -> 6 tokens; 3 markers; reasoning -> 400 output tokens; medical -> high.
    // 0.35·min(1, 3/3) + 0.25·6/2000 + 0.15·0/6 + 0.15·400/1000 + 0.1·1 = 0.35 + 0.00075 + 0 + 0.06 + 0.1 = 0.51075 -> 0.511
    const f = extractFeatures(request({ prompt: 'Why? Explain. Prove it.', taskType: 'reasoning', domain: 'medical' }));
    assert.equal(f.promptTokens, 6);
    assert.equal(f.reasoningMarkers, 3);
    assert.equal(f.complexity, 0.511);
    // 'abcd' -> 1 token, classification -> 8 output tokens: 0.25·1/2000 + 0.15·8/1000 = 0.001325 -> 0.001
    assert.equal(extractFeatures(request({ prompt: 'abcd', taskType: 'classification' })).complexity, 0.001);
  });

  it('fieldCount is present only when given', () => {
    assert.equal('fieldCount' in extractFeatures(request({})), false);
    assert.equal(extractFeatures(request({ taskType: 'extraction', fieldCount: 0 })).fieldCount, 0);
  });
});

describe('buildDecisionLog arithmetic', () => {
  // small-model 0.15/0.6, medium-model 0.4/1.6, large-model 2.5/10 USD per 1M tokens.
  const l = escalationLadder(testCatalog('sim').models);
  const req = request({ requestId: 'log-1', taskType: 'classification' });
  const decision: RoutingDecision = {
    model: 'small-model',
    confidence: 0.85,
    confidenceAdjustment: 0,
    alternatives: ['medium-model', 'large-model'],
    reason: 'rule "classification-small" fired because task type is classification',
    strategy: 'rules',
    ruleId: 'classification-small',
    policyVersion: 'v-log',
  };
  const plan: RoutePlan = {
    decision,
    features: extractFeatures(req),
    ladder: l,
    bestModel: 'large-model',
    maxEscalations: 2,
    gateThreshold: 0.9,
    policyVersion: 'v-log',
  };
  const verdict = (passed: boolean, score: number, judgeCost: number): QualityVerdict => ({
    passed,
    score,
    threshold: 0.9,
    evaluator: 'judge',
    reasons: [],
    costUsd: judgeCost,
  });
  const attempt = (a: Omit<Attempt, 'latencyMs'>): Attempt => ({ latencyMs: 100, ...a });

  it('an escalation that still beats the best model: cost and savings by hand', () => {
    // small: 1000 in, 500 out -> (1000·0.15 + 500·0.6) / 1e6 = 0.00045, judge 0.0001, failed
    // medium: 1000 in, 400 out -> (1000·0.4 + 400·1.6) / 1e6 = 0.00104, judge 0.0001, passed (kept)
    const attempts = [
      attempt({ model: 'small-model', cause: 'routed', inputTokens: 1000, outputTokens: 500, costUsd: 0.00045, origin: 'simulated', verdict: verdict(false, 0.4, 0.0001) }),
      attempt({ model: 'medium-model', cause: 'escalation', inputTokens: 1000, outputTokens: 400, costUsd: 0.00104, origin: 'simulated', verdict: verdict(true, 0.95, 0.0001) }),
    ];
    const log = buildDecisionLog({ request: req, plan, attempts, final: { attempt: attempts[1]!, answer: 'billing' }, workflowId: 'route-log-1', timestamp: '2026-01-01T00:00:00.000Z' });
    // costUsd = 0.00045 + 0.0001 + 0.00104 + 0.0001 = 0.00169
    assert.ok(Math.abs(log.costUsd - 0.00169) < 1e-12, `costUsd ${log.costUsd}`);
    // best (large) on the kept answer's tokens: (1000·2.5 + 400·10) / 1e6 = 0.0065; saved = 0.0065 − 0.00169 = 0.00481
    assert.ok(Math.abs(log.costSavedUsd - 0.00481) < 1e-12, `costSavedUsd ${log.costSavedUsd}`);
    assert.equal(log.escalations, 1);
    assert.equal(log.wasEscalated, true);
    assert.equal(log.selectedModel, 'small-model');
    assert.equal(log.finalModel, 'medium-model');
    assert.equal(log.bestModel, 'large-model');
    assert.equal(log.qualityScore, 0.95);
    assert.equal(log.passed, true);
    assert.equal(log.answer, 'billing');
    assert.equal(log.origin, 'simulated');
    assert.equal(log.policyVersion, 'v-log');
    assert.equal(log.workflowId, 'route-log-1');
    assert.deepEqual(log.alternativeModels, ['medium-model', 'large-model']);
  });

  it('escalating all the way costs more than the best model alone: savings go negative', () => {
    // small 100/50: (15 + 30) / 1e6 = 0.000045; medium 100/50: (40 + 80) / 1e6 = 0.00012;
    // large 100/50: (250 + 500) / 1e6 = 0.00075; judges 0.00002 each (3) = 0.00006.
    const attempts = [
      attempt({ model: 'small-model', cause: 'routed', inputTokens: 100, outputTokens: 50, costUsd: 0.000045, origin: 'simulated', verdict: verdict(false, 0.2, 0.00002) }),
      attempt({ model: 'medium-model', cause: 'escalation', inputTokens: 100, outputTokens: 50, costUsd: 0.00012, origin: 'live', verdict: verdict(false, 0.5, 0.00002) }),
      attempt({ model: 'large-model', cause: 'best-fallback', inputTokens: 100, outputTokens: 50, costUsd: 0.00075, origin: 'simulated', verdict: verdict(true, 0.92, 0.00002) }),
    ];
    const log = buildDecisionLog({ request: req, plan, attempts, final: { attempt: attempts[2]!, answer: 'refund' }, workflowId: 'route-log-1', timestamp: 't' });
    // costUsd = 0.000045 + 0.00012 + 0.00075 + 0.00006 = 0.000975; best on 100/50 = 0.00075; saved = −0.000225
    assert.ok(Math.abs(log.costUsd - 0.000975) < 1e-12, `costUsd ${log.costUsd}`);
    assert.ok(Math.abs(log.costSavedUsd - -0.000225) < 1e-12, `costSavedUsd ${log.costSavedUsd}`);
    assert.ok(log.costSavedUsd < 0);
    assert.equal(log.escalations, 2);
    assert.equal(log.origin, 'mixed');
    assert.equal(log.finalModel, 'large-model');
  });

  it('a first-try pass: no escalation, savings priced on the small answer’s tokens', () => {
    // small 2000/10: (300 + 6) / 1e6 = 0.000306, no judge. Best on 2000/10: (5000 + 100) / 1e6 = 0.0051.
    const attempts = [attempt({ model: 'small-model', cause: 'routed', inputTokens: 2000, outputTokens: 10, costUsd: 0.000306, origin: 'replayed', verdict: verdict(true, 1, 0) })];
    const log = buildDecisionLog({ request: req, plan, attempts, final: { attempt: attempts[0]!, answer: 'ok' }, workflowId: 'w', timestamp: 't' });
    assert.ok(Math.abs(log.costUsd - 0.000306) < 1e-12);
    assert.ok(Math.abs(log.costSavedUsd - (0.0051 - 0.000306)) < 1e-12, `costSavedUsd ${log.costSavedUsd}`);
    assert.equal(log.escalations, 0);
    assert.equal(log.wasEscalated, false);
    assert.equal(log.origin, 'replayed');
  });

  it('a learning decision teaches its outcome, unless the answer was kept unjudged', () => {
    const learning = { ...plan, decision: { ...decision, strategy: 'bandit', propensity: 0.9, context: { bucket: 'b', vector: [1] } } };
    const judged = [attempt({ model: 'small-model', cause: 'routed', inputTokens: 100, outputTokens: 50, costUsd: 0.000045, verdict: verdict(true, 1, 0) })];
    const judgedLog = buildDecisionLog({ request: req, plan: learning, attempts: judged, final: { attempt: judged[0]!, answer: 'ok' }, workflowId: 'w', timestamp: 't' });
    assert.equal(learningOutcome(judgedLog)?.quality, 1);
    const unjudged = [{ ...judged[0]!, verdict: { ...verdict(true, 0.9, 0), unjudged: true } }];
    const unjudgedLog = buildDecisionLog({ request: req, plan: learning, attempts: unjudged, final: { attempt: unjudged[0]!, answer: 'ok' }, workflowId: 'w', timestamp: 't' });
    assert.equal(learningOutcome(unjudgedLog), undefined, 'a score nobody measured is not a reward');
  });

  it('rejects a plan whose best model is not on its ladder', () => {
    const attempts = [attempt({ model: 'small-model', cause: 'routed', inputTokens: 1, outputTokens: 1, costUsd: 0 })];
    assert.throws(
      () => buildDecisionLog({ request: req, plan: { ...plan, bestModel: 'gone' }, attempts, final: { attempt: attempts[0]!, answer: '' }, workflowId: 'w', timestamp: 't' }),
      /best model "gone" is not on the ladder/,
    );
  });
});

describe('nextStep: the escalation policy', () => {
  const plan = { ladder, bestModel: 'gpt-4o', maxEscalations: 2 };
  const failed = (model: string, costUsd: number) => ({ model, cause: 'routed' as const, costUsd, verdict: { passed: false, score: 0.2, threshold: 0.95, evaluator: 'test', reasons: [], costUsd: 0.0001 } });

  it('climbs one tier after a failure and stops after a pass', () => {
    assert.deepEqual(nextStep(plan, [failed('gpt-4o-mini', 0.001)]), { model: 'gpt-4.1-mini', cause: 'escalation' });
    const passed = { ...failed('gpt-4o-mini', 0.001), verdict: { ...failed('x', 0).verdict, passed: true } };
    assert.equal(nextStep(plan, [passed]), undefined);
  });

  it('stops escalating once the request has spent its budget', () => {
    // Spent 0.001 + 0.0001 (judge) = 0.0011: a budget of 0.001 is exhausted, 0.002 is not.
    assert.equal(nextStep({ ...plan, budgetUsd: 0.001 }, [failed('gpt-4o-mini', 0.001)]), undefined);
    assert.deepEqual(nextStep({ ...plan, budgetUsd: 0.002 }, [failed('gpt-4o-mini', 0.001)]), { model: 'gpt-4.1-mini', cause: 'escalation' });
  });
});

describe('nextStep after a speculative race', () => {
  const plan = { ladder, bestModel: 'gpt-4o', maxEscalations: 2 };
  const verdict = (passed: boolean) => ({ passed, score: passed ? 1 : 0.2, threshold: 0.95, evaluator: 'test', reasons: [], costUsd: 0.0001 });
  const routed = (passed: boolean) => ({ model: 'gpt-4o-mini', cause: 'routed' as const, costUsd: 0.001, verdict: verdict(passed) });

  it('stops when the routed answer passed, whatever became of the cancelled partner', () => {
    assert.equal(nextStep(plan, [routed(true), { model: 'gpt-4o', cause: 'speculative', costUsd: 0.0004, status: 'cancelled' }]), undefined);
  });

  it('stops when the partner was judged and failed too: the best model has been tried', () => {
    assert.equal(nextStep(plan, [routed(false), { model: 'gpt-4o', cause: 'speculative', costUsd: 0.01, verdict: verdict(false) }]), undefined);
  });

  it('climbs from the routed model when the partner call failed, and a partner is not an escalation', () => {
    const attempts = [routed(false), { model: 'gpt-4o', cause: 'speculative' as const, costUsd: 0, status: 'failed' as const }];
    assert.deepEqual(nextStep(plan, attempts), { model: 'gpt-4.1-mini', cause: 'escalation' });
    assert.deepEqual(nextStep({ ...plan, maxEscalations: 0 }, attempts), { model: 'gpt-4o', cause: 'best-fallback' });
  });
});

describe('speculativeRace: when a decision races a partner', () => {
  const plan = { ladder, bestModel: 'gpt-4o' };
  const race = { whenConfidenceBelow: 0.6, partner: 'best' as const, prefer: 'cost' as const };

  it('races the partner only below the confidence bar, and says why', () => {
    assert.deepEqual(speculativeRace(race, plan, { model: 'gpt-4o-mini', confidence: 0.42 }), {
      partner: 'gpt-4o',
      prefer: 'cost',
      reason: 'gpt-4o raced beside gpt-4o-mini — confidence 0.42 < 0.6',
    });
    assert.equal(speculativeRace(race, plan, { model: 'gpt-4o-mini', confidence: 0.6 }), undefined);
    assert.equal(speculativeRace(undefined, plan, { model: 'gpt-4o-mini', confidence: 0.1 }), undefined);
  });

  it('never races a model against itself', () => {
    assert.equal(speculativeRace(race, plan, { model: 'gpt-4o', confidence: 0.1 }), undefined);
  });

  it('names the partner by tier (its cheapest model) or by id, and refuses an id that is not in the catalog', () => {
    assert.equal(speculativeRace({ ...race, partner: { tier: 'medium' } }, plan, { model: 'gpt-4o-mini', confidence: 0.1 })?.partner, 'gpt-4.1-mini');
    assert.equal(speculativePartner({ ...race, partner: { model: 'gpt-4.1-mini' } }, plan), 'gpt-4.1-mini');
    assert.throws(
      () => speculativePartner({ ...race, partner: { model: 'gpt-9' } }, plan),
      (err: unknown) => err instanceof ValidationError && err.issues[0]!.path === 'speculative.partner.model' && /"gpt-9" is not in the catalog/.test(err.message),
    );
  });
});
