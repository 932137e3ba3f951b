import { assertArtefactMatchesCatalog, catalogFingerprint } from '../../../domain/classifierArtefact';
import { KNN_ARTEFACT_FORMAT_VERSION, parseKnnArtefactJson, type KnnArtefact } from '../../../domain/knnArtefact';
import { heldOutByCost } from '../../costRule';
import { extractFeatures } from '../../features';
import type { Rung } from '../../ladder';
import { DEFAULT_FEATURE_SETTINGS } from '../../textFeatures';
import { checkArtefact } from '../artefactCheck';
import type { StrategyDefinition, StrategyEnv, TrainingExample } from '../types';
import { indexVectors, knnPassRates, routeByKnn, trainKnn, type KnnIndex } from './knn';
import { KnnPolicySchema, type KnnPolicy } from './policy';

export { KnnPolicySchema, type KnnPolicy } from './policy';
export { knnNeighbours, knnPassRates, routeByKnn, trainKnn, type KnnIndex } from './knn';

/** RouterBench's and RouteLLM's comparisons use k = 100 on this much data. */
export const DEFAULT_K = 100;

function indexOf(artefact: KnnArtefact): KnnIndex {
  const ids = artefact.catalog.map((m) => m.id);
  const labels = ids.map((id) => Int8Array.from(artefact.labels[id]!, (c) => (c === '1' ? 1 : c === '0' ? 0 : -1)));
  return indexVectors(artefact.vectors, labels, artefact.featureSettings, artefact.k, ids);
}

/** The artefact a policy names as an index, built once per file version; refused when trained for another catalog. */
function loadKnn(path: string, env: StrategyEnv): { artefact: KnnArtefact; index: KnnIndex } {
  return env.load(path, 'knn-index', (text, subject) => {
    const artefact = parseKnnArtefactJson(text, `kNN artefact ${subject}`);
    assertArtefactMatchesCatalog(artefact, env.ladder, `kNN artefact ${subject}`);
    return { artefact, index: indexOf(artefact) };
  });
}

const round = (x: number) => Number(x.toPrecision(6));

function knnArtefact(index: KnnIndex, ladder: readonly Rung[], createdAt: string, passThreshold: number, trainingData: KnnArtefact['trainingData']): KnnArtefact {
  const catalog = ladder.map(({ id, tier, inputUsdPer1M, outputUsdPer1M }) => ({ id, tier, inputUsdPer1M, outputUsdPer1M, expectedOutputTokens: null }));
  return {
    formatVersion: KNN_ARTEFACT_FORMAT_VERSION,
    kind: 'knn',
    createdAt,
    policyVersion: `knn-k${index.k}-${createdAt.slice(0, 10)}`,
    featureSettings: index.settings,
    passThreshold,
    k: index.k,
    catalog,
    catalogFingerprint: catalogFingerprint(catalog),
    trainingData,
    vectors: index.vectors.map((v) => ({ indices: [...v.indices], values: v.values.map(round) })),
    labels: Object.fromEntries(index.models.map((id, m) => [id, Array.from(index.labels[m]!, (y) => (y === 1 ? '1' : y === 0 ? '0' : '-')).join('')])),
  };
}

/** Pass rates among the k most similar training requests (cosine on the classifier's features), then the cost rule. */
export const knnStrategy: StrategyDefinition<KnnPolicy, typeof KnnPolicySchema> = {
  name: 'knn',
  summary: 'pass rates among the k most similar training requests (from a trained index), then the cost rule',
  policySchema: KnnPolicySchema,
  check: (policy, env) => checkArtefact('knn.artefactPath', policy.knn.artefactPath, () => loadKnn(policy.knn.artefactPath, env)),
  create(policy, env) {
    const { artefactPath, lambda, judgeCostRatio } = policy.knn;
    return {
      decide({ request, features }) {
        const { artefact, index } = loadKnn(artefactPath, env);
        const decision = routeByKnn(index, env.ladder, request, features, {
          lambda: lambda ?? artefact.operatingPoint?.lambda ?? 1,
          judgeCostRatio: judgeCostRatio ?? artefact.operatingPoint?.judgeCostRatio ?? 0.1,
        });
        return { ...decision, policyVersion: artefact.policyVersion };
      },
    };
  },
  fit(examples, folds, ladder, options) {
    const k = options.k ?? DEFAULT_K;
    const models = ladder.map((r) => r.id);
    const train = (subset: readonly TrainingExample[]) => trainKnn(subset, DEFAULT_FEATURE_SETTINGS, k, models);
    // One index per fold, built without it; each example's pass rates are computed once and reused by every λ.
    const foldIndexes = Array.from({ length: folds.folds }, (_, f) => {
      const index = train(examples.filter((_, i) => folds.foldOf[i] !== f));
      options.onProgress?.(f + 1, folds.folds + 1);
      return index;
    });
    const features = examples.map((e) => e.features ?? extractFeatures(e.request));
    const rates = new Map<number, Record<string, number>>();
    const ratesOf = (i: number) => {
      let r = rates.get(i);
      if (!r) rates.set(i, (r = knnPassRates(foldIndexes[folds.foldOf[i]!]!, examples[i]!.request, features[i]!)));
      return r;
    };
    const all = train(examples);
    options.onProgress?.(folds.folds + 1, folds.folds + 1);
    return {
      artefact: knnArtefact(all, ladder, options.createdAt, options.passThreshold, options.trainingData),
      heldOut: heldOutByCost(ladder, features, ratesOf, options.judgeCostRatio),
    };
  },
  artefactPolicy: (base, artefactPath, knobs) => ({ ...base, strategy: 'knn', knn: { artefactPath, ...knobs } }),
};
