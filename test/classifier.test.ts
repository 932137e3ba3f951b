import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ModelSpec } from '../src/domain/catalog';
import {
  assertArtefactMatchesCatalog,
  parseClassifierArtefact,
  parseClassifierArtefactJson,
  type ClassifierArtefact,
} from '../src/domain/classifierArtefact';
import { RouteRequestSchema } from '../src/domain/request';
import { ValidationError } from '../src/domain/validation';
import { calibrate, expectedCalibrationError, fitIsotonic, fitPlatt, rocAuc } from '../src/routing/strategies/classifier/calibration';
import { chooseByThreshold, costThreshold, describeChoice, type DecisionCandidate } from '../src/routing/costRule';
import { routeByClassifier } from '../src/routing/strategies/classifier';
import { knnNeighbours, knnPassRates, routeByKnn, trainKnn } from '../src/routing/strategies/knn/knn';
import { sigmoid, trainLogisticModels } from '../src/routing/strategies/classifier/logistic';
import { passProbabilities, topFeatures } from '../src/routing/strategies/classifier/predict';
import { labelsFromQualities, penaltyScales, trainClassifier, type ClassifierCatalogModel } from '../src/routing/strategies/classifier/train';
import { seededRandom } from '../src/routing/random';
import { assignFolds } from '../src/routing/folds';
import type { TrainingExample } from '../src/routing/strategies/types';
import { extractFeatures } from '../src/routing/features';
import { escalationLadder } from '../src/routing/ladder';
import { DEFAULT_FEATURE_SETTINGS, TEXT_OFFSET, featurize } from '../src/routing/textFeatures';

const CATALOG: ClassifierCatalogModel[] = [
  { id: 'small', tier: 1, inputUsdPer1M: 0.2, outputUsdPer1M: 0.4 },
  { id: 'medium', tier: 2, inputUsdPer1M: 1, outputUsdPer1M: 2 },
  { id: 'large', tier: 3, inputUsdPer1M: 10, outputUsdPer1M: 30 },
];

function spec(m: ClassifierCatalogModel): ModelSpec {
  const tierName = (['small', 'medium', 'large'] as const)[m.tier - 1]!;
  return { id: m.id, provider: 'simulated', tier: m.tier, tierName, inputUsdPer1M: m.inputUsdPer1M, outputUsdPer1M: m.outputUsdPer1M, contextWindow: 128_000, timeouts: { startToCloseMs: 1000, scheduleToCloseMs: 2000 } };
}
const LADDER = escalationLadder(CATALOG.map(spec));

function request(prompt: string, requestId = 'req-1') {
  return RouteRequestSchema.parse({ requestId, prompt, taskType: 'qa' });
}

const EASY = ['capital', 'colour', 'animal', 'fruit', 'weekday', 'planet'];
const HARD = ['prove', 'theorem', 'integral', 'eigenvalue', 'topology', 'lemma'];

/** Easy questions pass on every model; hard ones mostly only on the large model. Every tenth lacks a medium outcome. */
function syntheticExamples(n: number, seed: number): TrainingExample[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => {
    const hard = random() < 0.5;
    const pool = hard ? HARD : EASY;
    const words = Array.from({ length: 5 }, () => pool[Math.floor(random() * pool.length)]);
    const passes: Record<string, boolean | undefined> = {
      small: random() < (hard ? 0.1 : 0.9),
      medium: random() < (hard ? 0.5 : 0.95),
      large: random() < 0.97,
    };
    if (i % 10 === 3) passes.medium = undefined;
    return { request: request(`Question ${i}: ${words.join(' ')}?`, `syn-${i}`), passes };
  });
}

const TRAIN_OPTIONS = { catalog: CATALOG, createdAt: '2025-01-02T03:04:05.000Z', seed: 7 } as const;
const EXAMPLES = syntheticExamples(300, 1);
const TRAINED = trainClassifier(EXAMPLES, TRAIN_OPTIONS);

function normalSample(random: () => number): number {
  // Box–Muller.
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

describe('training', () => {
  test('same data and seed give a byte-identical artefact', () => {
    const progress: string[] = [];
    const again = trainClassifier(syntheticExamples(300, 1), { ...TRAIN_OPTIONS, onProgress: (done, total) => progress.push(`${done}/${total}`) });
    assert.deepEqual(progress, ['1/6', '2/6', '3/6', '4/6', '5/6', '6/6']);
    assert.equal(JSON.stringify(again.artefact), JSON.stringify(TRAINED.artefact));
    assert.deepEqual(again.outOfFold, TRAINED.outOfFold);
    const otherSeed = trainClassifier(EXAMPLES, { ...TRAIN_OPTIONS, seed: 8 });
    assert.notDeepEqual(otherSeed.folds.foldOf, TRAINED.folds.foldOf);
    assert.equal(otherSeed.artefact.training.seed, 8);
  });

  test('learns which model passes which request, out of fold, skipping missing outcomes', () => {
    const { artefact, outOfFold, folds } = TRAINED;
    assert.equal(artefact.trainingMetrics.small!.n, 300);
    assert.equal(artefact.trainingMetrics.medium!.n, 270, 'rows without a medium outcome are skipped for medium only');
    assert.ok(artefact.trainingMetrics.small!.auc > 0.8, `small AUC ${artefact.trainingMetrics.small!.auc}`);
    for (const id of ['small', 'medium', 'large']) {
      assert.equal(outOfFold[id]!.length, 300);
      assert.ok(outOfFold[id]!.every((p) => p > 0 && p < 1));
      const m = artefact.trainingMetrics[id]!;
      assert.ok(m.eceAfter >= 0 && m.eceAfter < 0.15 && m.logLoss > 0 && m.brier > 0, `${id} metrics ${JSON.stringify(m)}`);
    }
    assert.deepEqual(folds, assignFolds(EXAMPLES.map((e) => e.request.requestId), 5, 7), 'training folds are the evaluator\'s folds');
    const easy = EXAMPLES.findIndex((e) => e.request.prompt.includes('capital'));
    const hard = EXAMPLES.findIndex((e) => e.request.prompt.includes('theorem'));
    assert.ok(outOfFold.small![easy]! > 0.6 && outOfFold.small![hard]! < 0.4);
    assert.ok(Object.values(artefact.featureNames).some((name) => /"(prove|theorem|integral|eigenvalue|topology|lemma)"/.test(name)));
  });

  test('labels are "quality ≥ threshold"; a catalog model with no outcomes at all is refused', () => {
    assert.deepEqual(labelsFromQualities({ a: { quality: 0.95 }, b: { quality: 0.949 }, c: undefined }), { a: true, b: false });
    assert.deepEqual(labelsFromQualities({ a: { quality: 0.7 } }, 0.5), { a: true });
    const noLarge = EXAMPLES.map((e) => ({ ...e, passes: { ...e.passes, large: undefined } }));
    assert.throws(() => trainClassifier(noLarge, TRAIN_OPTIONS), /no training example has an outcome for model "large"/);
    assert.throws(() => trainClassifier(EXAMPLES.slice(0, 3), TRAIN_OPTIONS), /need at least 5 examples/);
    assert.throws(
      () => trainClassifier(EXAMPLES, { ...TRAIN_OPTIONS, featureSettings: { ...DEFAULT_FEATURE_SETTINGS, hashBits: 2 } }),
      /Invalid feature settings: hashBits/,
    );
    assert.throws(() => trainClassifier(EXAMPLES, { ...TRAIN_OPTIONS, l2: 0 }), /l2 must be greater than 0/);
  });

  test('the IDF-weighted penalty: rare text slots scale by their IDF, dense slots by a constant; off gives the plain fit', () => {
    const rows = [
      { indices: [0, TEXT_OFFSET, TEXT_OFFSET + 1], values: [0.5, 0.6, 0.8] },
      { indices: [0, TEXT_OFFSET], values: [0.5, 1] },
      { indices: [TEXT_OFFSET], values: [1] },
    ];
    const scales = penaltyScales(rows);
    assert.equal(scales.get(TEXT_OFFSET), Math.log(4 / 4) + 1, 'in every row: IDF 1');
    assert.equal(scales.get(TEXT_OFFSET + 1), Math.log(4 / 2) + 1);
    assert.equal(scales.get(0), 5);
    assert.equal(scales.has(TEXT_OFFSET + 2), false);
    // Equivalent to penalising (w_j / s_j)²: the plain fit on rows scaled by s_j, with the weights scaled back.
    const scaledRows = EXAMPLES.map((e) => featurize(e.request, extractFeatures(e.request), DEFAULT_FEATURE_SETTINGS));
    const s = penaltyScales(scaledRows);
    const labels = [Int8Array.from(EXAMPLES, (e) => (e.passes.small ? 1 : 0))];
    const [plainOnScaled] = trainLogisticModels(scaledRows.map((r) => ({ indices: r.indices, values: r.values.map((v, t) => v * s.get(r.indices[t]!)!) })), labels, { l2: 1e-2, maxIterations: 200 });
    const idf = trainClassifier(EXAMPLES, { ...TRAIN_OPTIONS, l2: 1e-2 }).artefact.models.small!;
    plainOnScaled!.indices.forEach((j, t) => {
      const stored = idf.values[idf.indices.indexOf(j)] ?? 0;
      assert.ok(Math.abs(stored - plainOnScaled!.values[t]! * s.get(j)!) <= 1e-3 * Math.max(1, Math.abs(stored)), `slot ${j}`);
    });
    const plain = trainClassifier(EXAMPLES, { ...TRAIN_OPTIONS, idfPenalty: false, l2: 1e-2 }).artefact.models.small!;
    const [direct] = trainLogisticModels(scaledRows, labels, { l2: 1e-2, maxIterations: 200 });
    assert.deepEqual(plain.indices, direct!.indices.filter((_, t) => Number(direct!.values[t]!.toPrecision(4)) !== 0));
    assert.notDeepEqual(plain.values, idf.values);
  });

  test('logistic regression recovers a known probability: labels ~ Bernoulli(sigmoid(2x))', () => {
    const random = seededRandom(42);
    const xs = Array.from({ length: 6000 }, () => normalSample(random));
    const ys = Int8Array.from(xs, (x) => (random() < sigmoid(2 * x) ? 1 : 0));
    const [fit] = trainLogisticModels(xs.map((x) => ({ indices: [0], values: [x] })), [ys], { l2: 1e-6, maxIterations: 100 });
    const w = fit!.values[0]!;
    for (let x = -2.5; x <= 2.5; x += 0.25) {
      const p = sigmoid(fit!.bias + w * x);
      assert.ok(Math.abs(p - sigmoid(2 * x)) < 0.05, `at x=${x}: fitted ${p.toFixed(3)} vs true ${sigmoid(2 * x).toFixed(3)}`);
    }
    const fresh = Array.from({ length: 6000 }, () => normalSample(random));
    const probs = fresh.map((x) => sigmoid(fit!.bias + w * x));
    const labels = fresh.map((x) => (random() < sigmoid(2 * x) ? 1 : 0));
    assert.ok(expectedCalibrationError(probs, labels) < 0.03);
    assert.ok(fit!.converged);
  });
});

describe('calibration', () => {
  const random = seededRandom(3);
  const xs = Array.from({ length: 8000 }, () => normalSample(random));
  const labels = xs.map((x) => (random() < sigmoid(2 * x) ? 1 : 0));
  const overConfident = xs.map((x) => 3 * 2 * x); // a logit three times too steep
  const [fitHalf, testHalf] = [(i: number) => i % 2 === 0, (i: number) => i % 2 === 1].map((keep) => xs.map((_, i) => i).filter(keep));

  test('Platt scaling recovers the true slope and cuts the ECE of an over-confident scorer', () => {
    const platt = fitPlatt(fitHalf!.map((i) => overConfident[i]!), fitHalf!.map((i) => labels[i]!));
    assert.ok(Math.abs(platt.a - 1 / 3) < 0.05, `a=${platt.a}`);
    assert.ok(Math.abs(platt.b) < 0.1, `b=${platt.b}`);
    const before = expectedCalibrationError(testHalf!.map((i) => sigmoid(overConfident[i]!)), testHalf!.map((i) => labels[i]!));
    const after = expectedCalibrationError(testHalf!.map((i) => calibrate(platt, overConfident[i]!)), testHalf!.map((i) => labels[i]!));
    assert.ok(before > 0.08, `ECE before ${before}`);
    assert.ok(after < 0.03, `ECE after ${after}`);
  });

  test('isotonic calibration is monotone and cuts the ECE too', () => {
    const iso = fitIsotonic(fitHalf!.map((i) => overConfident[i]!), fitHalf!.map((i) => labels[i]!));
    for (let k = 1; k < iso.scores.length; k++) {
      assert.ok(iso.scores[k]! > iso.scores[k - 1]! && iso.probabilities[k]! >= iso.probabilities[k - 1]!);
    }
    const after = expectedCalibrationError(testHalf!.map((i) => calibrate(iso, overConfident[i]!)), testHalf!.map((i) => labels[i]!));
    assert.ok(after < 0.04, `ECE after ${after}`);
    assert.deepEqual(fitIsotonic([1, 2, 3, 4], [1, 0, 1, 1]), { method: 'isotonic', scores: [1.5, 3, 4], probabilities: [0.5, 1, 1] });
  });

  test('ECE and AUC on hand-computed cases', () => {
    // Bin [0.1, 0.2): mean p 0.1, pass rate 0.5, weight 2/4; bin [0.9, 1]: mean p 0.9, pass rate 1, weight 2/4.
    assert.ok(Math.abs(expectedCalibrationError([0.1, 0.1, 0.9, 0.9], [0, 1, 1, 1]) - (0.5 * 0.4 + 0.5 * 0.1)) < 1e-12);
    assert.equal(expectedCalibrationError([1, 0], [true, false]), 0);
    assert.equal(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
    assert.equal(rocAuc([0.5, 0.5], [0, 1]), 0.5);
    assert.equal(rocAuc([0.2, 0.9], [1, 1]), 0.5, 'one class only');
  });
});

describe('decision rule', () => {
  // Expected costs 1, 4, 10 and a judge cost of 0.5: τ_m = 1 − λ(10 − c_m)/10.5.
  const candidates = (pCheap: number, pMid: number, pBest = 0.9): DecisionCandidate[] => [
    { id: 'best', expectedCostUsd: 10, passProbability: pBest },
    { id: 'mid', expectedCostUsd: 4, passProbability: pMid },
    { id: 'cheap', expectedCostUsd: 1, passProbability: pCheap },
  ];
  const g = 0.5;

  test('λ = 1 is the expected-cost break-even', () => {
    assert.ok(Math.abs(costThreshold(1, 10, g, 1) - (1 - 9 / 10.5)) < 1e-12);
    assert.ok(Math.abs(costThreshold(4, 10, g, 1) - (1 - 6 / 10.5)) < 1e-12);
    // At p = τ, routing to m (m's call + gate, plus the best model + gate when m fails) costs what the best model does.
    for (const c of [1, 4]) {
      const p = costThreshold(c, 10, g, 1);
      assert.ok(Math.abs(c + g + (1 - p) * (10 + g) - (10 + g)) < 1e-12);
    }
    const mid = chooseByThreshold(candidates(0.1, 0.5), 'best', { lambda: 1, judgeCostUsd: g, selection: 'cheapest' });
    assert.equal(mid.model, 'mid', 'cheap 0.10 < 0.143, mid 0.50 >= 0.429');
    assert.ok(Math.abs(mid.threshold - (1 - 6 / 10.5)) < 1e-12);
    assert.deepEqual(mid.considered.map((c) => c.id), ['cheap', 'mid', 'best']);
    assert.equal(chooseByThreshold(candidates(0.15, 0.5), 'best', { lambda: 1, judgeCostUsd: g, selection: 'cheapest' }).model, 'cheap');
  });

  test('λ = 0 always takes the best model; a large λ takes the cheapest', () => {
    const zero = chooseByThreshold(candidates(1, 1, 0.2), 'best', { lambda: 0, judgeCostUsd: g, selection: 'cheapest' });
    assert.equal(zero.model, 'best');
    assert.equal(zero.fellBack, true);
    assert.equal(zero.passProbability, 0.2);
    assert.equal(chooseByThreshold(candidates(0.01, 0.01), 'best', { lambda: 100, judgeCostUsd: g, selection: 'cheapest' }).model, 'cheap');
  });

  test('λ below 1 asks for more confidence; a fixed threshold replaces the cost-derived one', () => {
    // λ = 0.5: τ_cheap = 1 − 4.5/10.5 = 0.571, τ_mid = 1 − 3/10.5 = 0.714.
    const strict = chooseByThreshold(candidates(0.5, 0.7), 'best', { lambda: 0.5, judgeCostUsd: g, selection: 'cheapest' });
    assert.equal(strict.model, 'best');
    assert.equal(strict.fellBack, true);
    assert.equal(chooseByThreshold(candidates(0.5, 0.72), 'best', { lambda: 0.5, judgeCostUsd: g, selection: 'cheapest' }).model, 'mid');
    assert.equal(chooseByThreshold(candidates(0.5, 0.65), 'best', { lambda: 1, judgeCostUsd: g, threshold: 0.6, selection: 'cheapest' }).model, 'mid');
  });

  test('min-expected-cost takes the largest margin over the threshold: the expected-cost minimiser at λ = 1', () => {
    // cheap: 0.20 − 0.143 = 0.057; mid: 0.60 − 0.429 = 0.171. E[cost] = c + g + (1 − p)(10 + g): cheap 9.9, mid 8.7, best 10.5.
    const expectedCost = (c: number, p: number) => c + g + (1 - p) * (10 + g);
    assert.ok(expectedCost(4, 0.6) < expectedCost(1, 0.2) && expectedCost(4, 0.6) < 10 + g);
    const rule = { lambda: 1, judgeCostUsd: g, selection: 'cheapest' } as const;
    assert.equal(chooseByThreshold(candidates(0.2, 0.6), 'best', rule).model, 'cheap', 'the default stops at the first to clear');
    const choice = chooseByThreshold(candidates(0.2, 0.6), 'best', { ...rule, selection: 'min-expected-cost' });
    assert.equal(choice.model, 'mid');
    assert.equal(chooseByThreshold(candidates(0.1, 0.4), 'best', { ...rule, selection: 'min-expected-cost' }).model, 'best', 'none clears');
    assert.equal(chooseByThreshold(candidates(1, 1), 'best', { lambda: 0, judgeCostUsd: g, selection: 'min-expected-cost' }).model, 'best');
  });

  test('max-utility weighs p against λ-priced cost, the best model included', () => {
    // λ = 1, scale 1/10.5: utilities cheap 0.50 − 0.095 = 0.405, mid 0.60 − 0.381 = 0.219, best 0.90 − 0.952 = −0.052.
    const rule = { lambda: 1, judgeCostUsd: g, selection: 'max-utility' } as const;
    assert.equal(chooseByThreshold(candidates(0.5, 0.6), 'best', rule).model, 'cheap');
    // λ = 0.1, scale 0.1/10.5: cheap 0.50 − 0.0095, mid 0.60 − 0.038, best 0.90 − 0.095 = 0.805: the best model wins on quality.
    const best = chooseByThreshold(candidates(0.5, 0.6), 'best', { ...rule, lambda: 0.1 });
    assert.equal(best.model, 'best');
    assert.equal(best.fellBack, true);
    // λ = 0.5, scale 0.5/10.5, a weak best model: cheap 0.30 − 0.048 = 0.252, mid 0.20 − 0.190, best 0.60 − 0.476 = 0.124.
    // Cheap wins though it is under its threshold 1 − 0.5·9/10.5 = 0.571: without a gate there is nothing to escalate to.
    const weakBest = chooseByThreshold(candidates(0.3, 0.2, 0.6), 'best', { ...rule, lambda: 0.5 });
    assert.equal(weakBest.model, 'cheap');
    assert.ok(Math.abs(weakBest.threshold - (1 - (0.5 * 9) / 10.5)) < 1e-12);
    assert.match(describeChoice(weakBest, { ...rule, lambda: 0.5 }), /^cheap has the highest p − λ·cost\/\(cost of best \+ judge\), p\(pass\)=0\.30 \(λ=0\.5, judge \$0\.50\)$/);
    assert.equal(chooseByThreshold(candidates(1, 1), 'best', { ...rule, lambda: 0 }).model, 'best');
  });

  test('a model no cheaper than the best is never chosen over it', () => {
    const withPricey = [...candidates(0, 0), { id: 'pricey', expectedCostUsd: 12, passProbability: 0.99 }];
    for (const selection of ['cheapest', 'min-expected-cost', 'max-utility'] as const) {
      assert.equal(chooseByThreshold(withPricey, 'best', { lambda: 1, judgeCostUsd: g, selection }).model, 'best', selection);
    }
    assert.throws(() => chooseByThreshold(candidates(0, 0), 'nope', { lambda: 1, judgeCostUsd: g, selection: 'cheapest' }), /best model "nope"/);
    assert.throws(() => chooseByThreshold(candidates(0, 0), 'best', { lambda: -1, judgeCostUsd: g }), /lambda must be/);
  });

  test('routeByClassifier: confidence is the calibrated p, the reason names threshold and features', () => {
    const { artefact } = TRAINED;
    const easy = request('Which capital is the colour of this fruit?');
    const hard = request('Prove the lemma: every eigenvalue of this topology theorem integral is real.');
    // The large model costs ~70× the small one here, so break-even (λ = 1) would send nearly everything to small;
    // λ = 0.5 puts both cheaper models' thresholds near 0.5.
    const decision = routeByClassifier(artefact, LADDER, easy, extractFeatures(easy), { lambda: 0.5, selection: 'cheapest' });
    const p = passProbabilities(artefact, easy, extractFeatures(easy));
    assert.ok(p.small! > 0.7 && passProbabilities(artefact, hard, extractFeatures(hard)).small! < 0.3);
    assert.equal(decision.model, 'small');
    assert.equal(decision.strategy, 'classifier');
    assert.equal(decision.confidence, p.small);
    assert.deepEqual(decision.alternatives, ['medium', 'large']);
    assert.equal(decision.policyVersion, artefact.policyVersion);
    assert.match(decision.reason, /small p\(pass\)=0\.\d\d >= threshold 0\.5\d, cheapest to clear its threshold \(λ=0\.5, judge \$/);
    assert.match(decision.reason, /top features for small: .*"(capital|colour|fruit)" \(\+/);
    assert.notEqual(routeByClassifier(artefact, LADDER, hard, extractFeatures(hard), { lambda: 0.5, selection: 'cheapest' }).model, 'small');
    assert.equal(routeByClassifier(artefact, LADDER, hard, extractFeatures(hard), { lambda: 1, selection: 'cheapest' }).model, 'small', 'break-even: a 70× price gap is worth a likely escalation');
    const always = routeByClassifier(artefact, LADDER, easy, extractFeatures(easy), { lambda: 0, selection: 'cheapest' });
    assert.equal(always.model, 'large');
    assert.match(always.reason, /λ=0 always takes the best model/);
    const top = topFeatures(artefact, hard, extractFeatures(hard), 'small', 2);
    assert.equal(top.length, 2);
    assert.ok(top.every((t) => t.contribution < 0), 'hard words push the small model down');
  });

  test('the operating point stored in the artefact is the default knob', () => {
    const easy = request('Which capital is the colour of this fruit?');
    const cautious: ClassifierArtefact = {
      ...TRAINED.artefact,
      operatingPoint: { lambda: 0, targetRetention: 0.99, achievedRetention: 1, costSavings: 0, gateError: 0, judgeCostRatio: 0.1, noGate: false },
    };
    assert.equal(routeByClassifier(cautious, LADDER, easy, extractFeatures(easy), { selection: 'cheapest' }).model, 'large');
    assert.equal(routeByClassifier(cautious, LADDER, easy, extractFeatures(easy), { lambda: 1, selection: 'cheapest' }).model, 'small');
  });
});

describe('artefact file', () => {
  const { artefact } = TRAINED;
  const json = JSON.stringify(artefact);
  const edited = (edit: (a: Record<string, any>) => void): unknown => {
    const copy = JSON.parse(json);
    edit(copy);
    return copy;
  };

  test('round-trips through JSON', () => {
    assert.deepEqual(parseClassifierArtefactJson(json, 'model.json'), artefact);
    assert.ok(json.length < 200_000);
  });

  test('a bad field is named', () => {
    assert.throws(() => parseClassifierArtefact(edited((a) => (a.models.small.bias = 'x')), 'model.json'), (err) => {
      assert.ok(err instanceof ValidationError);
      assert.match(err.message, /^Invalid model\.json: models\.small\.bias: must be number, got string/);
      return true;
    });
    assert.throws(() => parseClassifierArtefact(edited((a) => delete a.featureSettings.hashBits)), /featureSettings\.hashBits: is required/);
    assert.throws(() => parseClassifierArtefact(edited((a) => a.models.small.indices.push(1e9))), /models\.small\.indices: (must be strictly increasing|slot 1000000000 is outside the feature space)/);
    assert.throws(() => parseClassifierArtefact(edited((a) => delete a.models.medium)), /models: has no entry for catalog model "medium"/);
    assert.throws(() => parseClassifierArtefact(edited((a) => (a.models.small.calibration = { method: 'magic' }))), /models\.small\.calibration\.method/);
    assert.throws(() => parseClassifierArtefactJson('{"formatVersion": 1,', 'model.json'), /Invalid model\.json: \(root\): not valid JSON/);
    assert.throws(() => parseClassifierArtefact([1, 2]), /Invalid classifier artefact: \(root\): must be object, got array/);
  });

  test('an unknown format version is refused with the version this router reads', () => {
    assert.throws(
      () => parseClassifierArtefact(edited((a) => (a.formatVersion = 1)), 'model.json'),
      /Invalid model\.json: formatVersion: unknown format version 1; this router reads format version 2/,
    );
    assert.throws(() => parseClassifierArtefact(edited((a) => delete a.formatVersion)), /formatVersion: unknown format version none/);
  });

  test('a catalog edited after training is refused', () => {
    assert.throws(
      () => parseClassifierArtefact(edited((a) => (a.catalog[0].inputUsdPer1M = 0.1))),
      /catalogFingerprint: does not match the artefact's own catalog/,
    );
  });

  test('an artefact for another catalog is refused, naming each difference', () => {
    const router = CATALOG.map(spec);
    assert.doesNotThrow(() => assertArtefactMatchesCatalog(artefact, [...router].reverse()));
    const repriced = router.map((m) => (m.id === 'medium' ? { ...m, inputUsdPer1M: 1.5 } : m));
    assert.throws(() => assertArtefactMatchesCatalog(artefact, repriced), (err) => {
      assert.ok(err instanceof ValidationError);
      assert.match(err.message, /its catalog does not match the router's/);
      assert.match(err.message, /catalog\.1\.inputUsdPer1M: "medium" was trained with inputUsdPer1M 1, the router's catalog has 1\.5/);
      return true;
    });
    assert.throws(() => assertArtefactMatchesCatalog(artefact, router.filter((m) => m.id !== 'large')), /catalog\.2\.id: model "large" is not in the router's catalog/);
    assert.throws(() => assertArtefactMatchesCatalog(artefact, [...router, spec({ id: 'huge', tier: 3, inputUsdPer1M: 50, outputUsdPer1M: 100 })]), /catalog: has no model "huge"/);
  });

});

describe('kNN router', () => {
  // Five-letter words and equal lengths, so every request has the same structured features and similarity is
  // decided by shared words: A shares 4 with the query, B 3, C 2, E 1, D none.
  const example = (prompt: string, passes: Record<string, boolean | undefined>, id: string): TrainingExample => ({ request: request(prompt, id), passes });
  const examples = [
    example('alpha bravo charl delta', { m1: true, m3: undefined }, 'A'),
    example('quebe romeo sierr tango', { m1: false, m2: false, m3: true }, 'D'),
    example('alpha bravo charl zulux', { m1: false, m2: true }, 'B'),
    example('alpha quebe romeo sierr', { m1: false, m2: true, m3: false }, 'E'),
    example('alpha bravo yanke xrayx', { m1: true, m2: false }, 'C'),
  ];
  const query = request('alpha bravo charl delta', 'query');

  test('neighbours and pass rates are the hand-computed ones', () => {
    const index = trainKnn(examples, DEFAULT_FEATURE_SETTINGS, 3, ['m1', 'm2', 'm3']);
    const neighbours = knnNeighbours(index, featurize(query, extractFeatures(query), DEFAULT_FEATURE_SETTINGS));
    assert.deepEqual(neighbours.map((n) => n.example), [0, 2, 4], 'A, B, C');
    assert.ok(Math.abs(neighbours[0]!.similarity - 1) < 1e-12);
    assert.ok(neighbours[0]!.similarity > neighbours[1]!.similarity && neighbours[1]!.similarity > neighbours[2]!.similarity);
    const rates = knnPassRates(index, query, extractFeatures(query));
    // m1: A pass, B fail, C pass → 2/3. m2: A has no outcome, B pass, C fail → 1/2. m3: no neighbour has one → base rate 1/2 (D, E).
    assert.deepEqual(rates, { m1: 2 / 3, m2: 1 / 2, m3: 1 / 2 });
  });

  test('routes with the same threshold rule as the classifier', () => {
    const index = trainKnn(examples, DEFAULT_FEATURE_SETTINGS, 3);
    assert.deepEqual(index.models, ['m1', 'm2', 'm3'], 'in order of first recorded outcome');
    const ladder = escalationLadder([
      spec({ id: 'm1', tier: 1, inputUsdPer1M: 0.2, outputUsdPer1M: 0.4 }),
      spec({ id: 'm2', tier: 2, inputUsdPer1M: 1, outputUsdPer1M: 2 }),
      spec({ id: 'm3', tier: 3, inputUsdPer1M: 10, outputUsdPer1M: 30 }),
    ]);
    const f = extractFeatures(query);
    const aggressive = routeByKnn(index, ladder, query, f, { lambda: 1, selection: 'cheapest' });
    assert.equal(aggressive.model, 'm1');
    assert.equal(aggressive.confidence, 2 / 3);
    assert.match(aggressive.reason, /^kNN \(k=3\): m1 p\(pass\)=0\.67 >= threshold/);
    assert.equal(aggressive.policyVersion, 'knn-k3');
    assert.equal(routeByKnn(index, ladder, query, f, { lambda: 0, selection: 'cheapest' }).model, 'm3');
    assert.throws(() => trainKnn(examples, DEFAULT_FEATURE_SETTINGS, 0), /k must be a whole number of at least 1/);
  });
});
