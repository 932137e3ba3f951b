import { assertArtefactMatchesCatalog, parseClassifierArtefactJson, type ClassifierArtefact } from '../../../domain/classifierArtefact';
import { heldOutByCost } from '../../costRule';
import { extractFeatures } from '../../features';
import type { Rung } from '../../ladder';
import { checkArtefact } from '../artefactCheck';
import type { StrategyDefinition, StrategyEnv } from '../types';
import { ClassifierPolicySchema, type ClassifierPolicy } from './policy';
import { routeByClassifier } from './route';
import { trainClassifier } from './train';

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
  check: (policy, env) => checkArtefact('classifier.artefactPath', policy.classifier.artefactPath, () => loadClassifierArtefact(policy.classifier.artefactPath, env)),
  create(policy, env) {
    const { artefactPath, lambda, judgeCostRatio } = policy.classifier;
    return {
      decide: ({ request, features }) =>
        routeByClassifier(loadClassifierArtefact(artefactPath, env), env.ladder, request, features, {
          ...(lambda !== undefined ? { lambda } : {}),
          ...(judgeCostRatio !== undefined ? { judgeCostRatio } : {}),
        }),
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
    return {
      artefact,
      // Out-of-fold probabilities: example i's come from the fold model (and calibration) that never saw it.
      heldOut: heldOutByCost(ladder, features, (i) => (byExample[i] ??= Object.fromEntries(Object.entries(outOfFold).map(([id, p]) => [id, p[i]!]))), options.judgeCostRatio),
      report: {
        header: ['model', 'n', 'pass rate', 'AUC', 'ECE raw', 'ECE calibrated', 'log loss'],
        rows: Object.entries(artefact.trainingMetrics).map(([id, m]) => [id, m.n, m.basePassRate.toFixed(3), m.auc.toFixed(3), m.eceBefore.toFixed(3), m.eceAfter.toFixed(3), m.logLoss.toFixed(3)]),
      },
    };
  },
  artefactPolicy: (base, artefactPath, knobs) => ({ ...base, strategy: 'classifier', classifier: { artefactPath, ...knobs } }),
};
