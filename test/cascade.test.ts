import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ModelSpec } from '../src/domain/catalog';
import { RouteRequestSchema } from '../src/domain/request';
import { cascadeStep, cascadePlanFor, conditionalPassProbability, learnCascadeEvidence, type CascadePlan, type CascadeTrainingRow } from '../src/routing/cascade';
import { candidatesAndRule } from '../src/routing/costRule';
import { keptAttemptIndex } from '../src/routing/decisionLog';
import { extractFeatures } from '../src/routing/features';
import { nextStep } from '../src/routing/escalation';
import { assignFolds } from '../src/routing/folds';
import { escalationLadder } from '../src/routing/ladder';
import { classifierStrategy } from '../src/routing/strategies/classifier';
import { trainClassifier } from '../src/routing/strategies/classifier/train';
import { loadRouterConfig } from '../src/worker/config';

/*
 * The cascade on hand-made outcome tables whose best order is known. Three models: a (cheap), b (mid), c (the
 * best). The classifier's own probabilities are the same on every row (p_a = p_b = 0.5, p_c = 0.8), so everything
 * the cascade knows beyond them comes from the learnt evidence: what a's failure says about b and c.
 */

const THRESHOLD = 0.95;
const MODELS = ['a', 'b', 'c'];
const P = { a: 0.5, b: 0.5, c: 0.8 };
const timeouts = { startToCloseMs: 1000, scheduleToCloseMs: 2000 };
const spec = (id: string, tier: number, usd: number): ModelSpec => ({
  id,
  provider: 'simulated',
  tier,
  tierName: (['small', 'medium', 'large'] as const)[tier - 1]!,
  inputUsdPer1M: usd,
  outputUsdPer1M: usd,
  contextWindow: 8000,
  timeouts,
});
const LADDER = escalationLadder([spec('a', 1, 1), spec('b', 2, 2), spec('c', 3, 10)]);

/** n rows on which a has quality qa, b passes on a share bPasses, c on a share cPasses. */
function rows(n: number, qa: number, bPasses: number, cPasses: number): CascadeTrainingRow[] {
  return Array.from({ length: n }, (_, i) => ({
    qualities: { a: qa, b: i < n * bPasses ? 1 : 0, c: i < n * cPasses ? 1 : 0 },
    passProbability: P,
  }));
}

/** The cascade's plan: calls cost 1, 2 and 10, judgements nothing, a pass is worth `value`. */
function plan(evidence: ReturnType<typeof learnCascadeEvidence>, value: number | null): { cascade: CascadePlan; ladder: typeof LADDER; bestModel: string; maxEscalations: number } {
  return {
    cascade: { passProbability: P, expectedCostUsd: { a: 1, b: 2, c: 10 }, judgeCostUsd: 0, passValueUsd: value, evidence },
    ladder: LADDER,
    bestModel: 'c',
    maxEscalations: 3,
  };
}
const verdict = (score: number) => ({ passed: score >= THRESHOLD, score, threshold: THRESHOLD, evaluator: 'test', reasons: [], costUsd: 0 });
const aFailed = (score = 0) => [{ model: 'a', cause: 'routed' as const, costUsd: 1, verdict: verdict(score) }];

// b fails wherever a fails (they share a weakness); c passes 80 % of those.
const CORRELATED = learnCascadeEvidence([...rows(100, 0, 0, 0.8), ...rows(100, 1, 1, 0.8)], MODELS, THRESHOLD);
// b passes 90 % of the requests a fails: a's failure says little about b.
const INDEPENDENT = learnCascadeEvidence([...rows(100, 0, 0.9, 0.8), ...rows(100, 1, 0.1, 0.8)], MODELS, THRESHOLD);

describe('cascade routing: the next model by expected gain for its price', () => {
  it('learns that a failure of a makes b unlikely when they fail together, and likelier when they do not', () => {
    const failures = [{ model: 'a', score: 0 }];
    assert.ok(conditionalPassProbability(plan(CORRELATED, 20).cascade, 'b', failures) < 0.05);
    assert.ok(conditionalPassProbability(plan(INDEPENDENT, 20).cascade, 'b', failures) > 0.85);
    // c passes 80 % whatever a did, as predicted: no shift.
    assert.ok(Math.abs(conditionalPassProbability(plan(CORRELATED, 20).cascade, 'c', failures) - 0.8) < 0.03);
  });

  it('skips the tier that fails with the first model and goes straight to the best (the known optimal order)', () => {
    // Ladder: a → b → c. Here b after a's failure almost never passes: 0·20 − 2 < 0.8·20 − 10.
    assert.deepEqual(nextStep({ ...plan(CORRELATED, 20), budgetUsd: undefined }, aFailed()), { model: 'c', cause: 'escalation', reason: nextStep(plan(CORRELATED, 20), aFailed())!.reason });
    assert.match(nextStep(plan(CORRELATED, 20), aFailed())!.reason!, /^cascade: c p\(pass \| a failed\)=0\.8/);
    assert.deepEqual(nextStep({ ...plan(CORRELATED, 20), cascade: undefined }, aFailed()), { model: 'b', cause: 'escalation' });
  });

  it('takes the cheaper tier when its pass is not tied to the failed model', () => {
    // 0.9·20 − 2 = 16 beats 0.8·20 − 10 = 6.
    assert.equal(nextStep(plan(INDEPENDENT, 20), aFailed())?.model, 'b');
    // After b fails too, c is the one left.
    const bFailed = [...aFailed(), { model: 'b', cause: 'escalation' as const, costUsd: 2, verdict: verdict(0) }];
    assert.equal(nextStep(plan(INDEPENDENT, 20), bFailed)?.model, 'c');
  });

  it('stops, keeping the best answer so far, when no model is worth its price', () => {
    // A pass worth 5: c's 0.8·5 − 10 and b's ~0·5 − 2 are both losses.
    assert.equal(nextStep(plan(CORRELATED, 5), aFailed()), undefined);
    // An unbounded pass value (λ = 0) never stops while a model is left: the likeliest goes next.
    assert.equal(nextStep(plan(CORRELATED, null), aFailed())?.model, 'c');
    const attempts = [{ verdict: verdict(0.2) }, { verdict: verdict(0.6) }, { verdict: verdict(0.4) }];
    assert.equal(keptAttemptIndex(attempts, () => true, true), 1);
    assert.equal(keptAttemptIndex(attempts, () => true), 2, 'the ladder keeps the strongest model reached');
  });

  it('reads a near miss apart from a refusal where training had near misses', () => {
    // When a nearly passes (0.6), b passes; when a fails outright (0), b fails too.
    const evidence = learnCascadeEvidence([...rows(100, 0.6, 1, 0.8), ...rows(100, 0, 0, 0.8), ...rows(100, 1, 0.5, 0.8)], MODELS, THRESHOLD);
    assert.equal(nextStep(plan(evidence, 20), aFailed(0.6))?.model, 'b');
    assert.equal(nextStep(plan(evidence, 20), aFailed(0))?.model, 'c');
    // Without enough near misses in training, a near miss is read as a failure.
    assert.equal(CORRELATED.nearShift[1]![0], null);
    assert.equal(nextStep(plan(CORRELATED, 20), aFailed(0.6))?.model, 'c');
  });

  it('maxEscalations still bounds it: once spent, only the best model, as the fallback', () => {
    const bounded = { ...plan(INDEPENDENT, 20), maxEscalations: 0 };
    assert.equal(nextStep(bounded, aFailed())?.model, 'c');
    assert.equal(nextStep(bounded, aFailed())?.cause, 'best-fallback');
    assert.equal(nextStep({ ...bounded, cascade: { ...bounded.cascade, passValueUsd: 5 } }, aFailed()), undefined);
    // A failed call (no answer) is no evidence about quality, and is not tried again.
    const errored = [{ model: 'a', cause: 'routed' as const, costUsd: 0, error: 'timeout' }];
    assert.equal(cascadeStep(plan(CORRELATED, 20), errored, false)?.model, 'b');
  });

  it('prices a pass from λ as the first-choice rule does, or from the willingness to pay', () => {
    const candidates = [
      { id: 'a', expectedCostUsd: 1, passProbability: 0.5 },
      { id: 'c', expectedCostUsd: 10, passProbability: 0.8 },
    ];
    assert.equal(cascadePlanFor(candidates, 'c', { lambda: 0.5, judgeCostUsd: 2 }, CORRELATED).passValueUsd, 24);
    assert.equal(cascadePlanFor(candidates, 'c', { lambda: 0, judgeCostUsd: 2 }, CORRELATED).passValueUsd, null);
    // W = $0.25 a point: the first choice runs at λ = (ĉ_best + g)/(100·W), and a pass is worth 100·W = $25.
    const features = extractFeatures(RouteRequestSchema.parse({ requestId: 'w', prompt: 'hello', taskType: 'qa' }));
    const { candidates: priced, best, rule } = candidatesAndRule(LADDER, features, () => 0.5, () => null, { willingnessToPayUsd: 0.25, judgeCostUsd: 0.001 });
    const bestCost = priced.find((c) => c.id === best.id)!.expectedCostUsd;
    assert.ok(Math.abs(rule.lambda - (bestCost + 0.001) / 25) < 1e-12);
    assert.ok(Math.abs(cascadePlanFor(priced, best.id, rule, CORRELATED).passValueUsd! - 25) < 1e-9);
  });
});

describe('cascade configuration', () => {
  const catalog = { models: LADDER.map((r) => ({ ...spec(r.id, r.tier, r.inputUsdPer1M) })) };
  const dir = mkdtempSync(join(tmpdir(), 'cascade-config-'));
  const write = (name: string, value: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(value));
    return path;
  };
  const examples = Array.from({ length: 60 }, (_, i) => ({
    request: RouteRequestSchema.parse({ requestId: `r${i}`, prompt: i % 2 ? `prove lemma ${i}` : `capital of country ${i}`, taskType: 'qa' }),
    passes: { a: i % 2 === 0, b: i % 3 !== 0, c: i % 7 !== 0 },
  }));
  const ladder = escalationLadder(catalog.models);
  const fitOptions = { createdAt: '2026-01-01T00:00:00.000Z', passThreshold: THRESHOLD, judgeCostRatio: 0.1, trainingData: [], seed: 1 };
  const withCascade = classifierStrategy.fit!(examples, assignFolds(examples.map((e) => e.request.requestId), 5, 1), ladder, fitOptions).artefact as { cascade?: { models: string[] } };
  const withoutCascade = trainClassifier(examples, { catalog: ladder, createdAt: fitOptions.createdAt, seed: 1, passThreshold: THRESHOLD }).artefact;
  const policy = (strategy: Record<string, unknown>) => ({ id: 'p', version: 'v1', gate: { threshold: THRESHOLD }, maxEscalations: 2, escalation: 'cascade', ...strategy });
  const load = (policyValue: unknown) => loadRouterConfig({ MODEL_ROUTER_CATALOG: write(`catalog-${Math.random()}.json`, catalog), MODEL_ROUTER_POLICIES: write(`policy-${Math.random()}.json`, policyValue) });

  it('train stores the cascade evidence in the artefact, and a policy escalating by it loads', () => {
    assert.deepEqual(withCascade.cascade?.models, ['a', 'b', 'c']);
    const config = load(policy({ strategy: 'classifier', classifier: { artefactPath: write('with.json', withCascade) } }));
    assert.equal(config.policies.get('p')?.escalation, 'cascade');
  });

  it('an artefact without cascade data is refused at start-up, naming the field and the fix', () => {
    const path = write('without.json', withoutCascade);
    assert.throws(() => load(policy({ strategy: 'classifier', classifier: { artefactPath: path } })), (err: Error) => {
      assert.match(err.message, /escalation: "cascade" needs cascade evidence, and the classifier artefact ".*without\.json" has none .*retrain it/);
      return true;
    });
  });

  it('a strategy without a pass probability per model cannot cascade', () => {
    const rules = policy({ strategy: 'rules', rules: [{ id: 'all', description: 'Everything.', when: {}, route: { tier: 'small' } }] });
    assert.throws(() => load(rules), /escalation: "cascade" needs a pass probability for every model, which the "rules" strategy does not give/);
  });

  it('a willingness to pay that is not a positive number is refused', () => {
    const bad = policy({ strategy: 'classifier', classifier: { artefactPath: write('with2.json', withCascade) }, willingnessToPayUsd: -1 });
    assert.throws(() => load(bad), /willingnessToPayUsd: Number must be greater than 0/);
  });
});
