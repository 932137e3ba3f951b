import { assertArtefactMatchesCatalog, parseClassifierArtefactJson, type ClassifierArtefact } from '../../../domain/classifierArtefact';
import { heldOutByCost } from '../../costRule';
import { extractFeatures } from '../../features';
import type { Rung } from '../../ladder';
import { checkArtefact } from '../artefactCheck';
import type { DecisionContext, StrategyDefinition, StrategyEnv } from '../types';
import { ClassifierPolicySchema, type ClassifierPolicy } from './policy';
import { ValidationError } from '../../../domain/validation';
import { learnCascadeEvidence } from '../../cascade';
import { cascadeOfPriced, decisionOfPriced, priceRequest, type PricedRequest } from './route';
import { trainClassifier } from './train';

/** Pass/fail labels as qualities (1/0) for examples that carry no recorded quality. */
function qualitiesOfPasses(passes: Readonly<Record<string, boolean | undefined>>): Record<string, number | undefined> {
  return Object.fromEntries(Object.entries(passes).map(([id, pass]) => [id, pass === undefined ? undefined : pass ? 1 : 0]));
}

export { ClassifierPolicySchema, type ClassifierPolicy } from './policy';
export { routeByClassifier } from './route';

/** The artefact a policy names, parsed once per file version and refused when trained for another catalog. */
export function loadClassifierArtefact(path: string, env: StrategyEnv): ClassifierArtefact {
  return env.load(path, 'classifier-artefact', (text, subject) => {
    const artefact = parseClassifierArtefactJson(text, `classifier artefact ${subject}`);
    assertArtefactMatchesCatalog(artefact, env.ladder, `classifier artefact ${subject}`);
    return artefact;
  });
}

/** A catalog model as the classifier records it in its artefact. */
export function classifierCatalog(ladder: readonly Rung[]) {
  return ladder.map(({ id, tier, inputUsdPer1M, outputUsdPer1M }) => ({ id, tier, inputUsdPer1M, outputUsdPer1M }));
}

/** Calibrated per-model pass probabilities (logistic regression on request and text features) and the cost rule. */
export const classifierStrategy: StrategyDefinition<ClassifierPolicy, typeof ClassifierPolicySchema> = {
  name: 'classifier',
  summary: 'calibrated pass probability per model from a trained artefact, then the cost-derived decision rule',
  policySchema: ClassifierPolicySchema,
  cascades: true,
  check: (policy, env) => {
    checkArtefact('classifier.artefactPath', policy.classifier.artefactPath, () => loadClassifierArtefact(policy.classifier.artefactPath, env));
    if (policy.escalation === 'cascade' && !loadClassifierArtefact(policy.classifier.artefactPath, env).cascade) {
      throw new ValidationError('routing policy', [
        { path: 'escalation', message: `"cascade" needs cascade evidence, and the classifier artefact "${policy.classifier.artefactPath}" has none (trained before it existed): retrain it with this version's "model-router train"` },
      ]);
    }
  },
  create(policy, env) {
    const { artefactPath, lambda, judgeCostRatio } = policy.classifier;
    const options = {
      ...(lambda !== undefined ? { lambda } : {}),
      ...(judgeCostRatio !== undefined ? { judgeCostRatio } : {}),
      ...(policy.willingnessToPayUsd !== undefined ? { willingnessToPayUsd: policy.willingnessToPayUsd } : {}),
    };
    // The route activity asks for the decision and then the cascade's plan with one context: price the request once.
    const priced = new WeakMap<DecisionContext, { artefact: ClassifierArtefact; request: PricedRequest }>();
    const pricedFor = (context: DecisionContext) => {
      const artefact = loadClassifierArtefact(artefactPath, env);
      const hit = priced.get(context);
      if (hit && hit.artefact === artefact) return hit;
      const fresh = { artefact, request: priceRequest(artefact, env.ladder, context.request, context.features, options) };
      priced.set(context, fresh);
      return fresh;
    };
    return {
      decide: (context) => {
        const { artefact, request } = pricedFor(context);
        return decisionOfPriced(artefact, env.ladder, request);
      },
      cascade: (context) => {
        const { artefact, request } = pricedFor(context);
        return cascadeOfPriced(artefact, request);
      },
    };
  },
  fit(examples, folds, ladder, options) {
    const { artefact, outOfFold } = trainClassifier(examples, {
      catalog: classifierCatalog(ladder),
      createdAt: options.createdAt,
      foldAssignment: folds,
      seed: options.seed,
      passThreshold: options.passThreshold,
      policyVersion: `classifier-${options.createdAt.slice(0, 10)}`,
      trainingData: options.trainingData,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    const features = examples.map((e) => e.features ?? extractFeatures(e.request));
    const byExample: Record<string, number>[] = [];
    // Out-of-fold probabilities: example i's come from the fold model (and calibration) that never saw it.
    const probabilities = (i: number) => (byExample[i] ??= Object.fromEntries(Object.entries(outOfFold).map(([id, p]) => [id, p[i]!])));
    // The cascade's evidence: once on every example for the artefact, and once per fold without it for held-out use.
    const cascadeRows = examples.map((e, i) => ({ qualities: e.qualities ?? qualitiesOfPasses(e.passes), passProbability: probabilities(i) }));
    const ids = ladder.map((r) => r.id);
    const learn = (keep: (i: number) => boolean) => learnCascadeEvidence(cascadeRows.filter((_, i) => keep(i)), ids, options.passThreshold);
    const byFold = Array.from({ length: folds.folds }, (_, k) => learn((i) => folds.foldOf[i] !== k));
    return {
      artefact: { ...artefact, cascade: learn(() => true) },
      heldOut: heldOutByCost(ladder, features, probabilities, options.judgeCostRatio, (i) => byFold[folds.foldOf[i]!]!),
      report: {
        header: ['model', 'n', 'pass rate', 'AUC', 'ECE raw', 'ECE calibrated', 'log loss'],
        rows: Object.entries(artefact.trainingMetrics).map(([id, m]) => [id, m.n, m.basePassRate.toFixed(3), m.auc.toFixed(3), m.eceBefore.toFixed(3), m.eceAfter.toFixed(3), m.logLoss.toFixed(3)]),
      },
    };
  },
  artefactPolicy: (base, artefactPath, knobs) => ({ ...base, strategy: 'classifier', classifier: { artefactPath, ...knobs } }),
};
