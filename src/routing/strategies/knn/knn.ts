import type { RouteRequest } from '../../../domain/request';
import type { RequestFeatures, RoutingDecision } from '../../../domain/results';
import { extractFeatures } from '../../features';
import type { Rung } from '../../ladder';
import { DEFAULT_FEATURE_SETTINGS, featurize, type FeatureSettings, type SparseVector } from '../../textFeatures';
import { chooseByCost, describeChoice, type CostRuleOptions } from '../../costRule';
import type { TrainingExample } from '../types';

/*
 * The kNN router baseline (as in RouterBench and RouteLLM's comparisons): a model's pass probability for a request
 * is its pass rate among the k most similar training requests, by cosine similarity of the same feature vectors
 * the classifier uses (structured block and text block together). Decisions use the classifier's cost-derived
 * threshold rule, so both can be swept over λ side by side.
 */

export interface KnnIndex {
  settings: FeatureSettings;
  k: number;
  models: string[];
  /** labels[m][i]: 1 passes, 0 fails, -1 unknown. */
  labels: Int8Array[];
  /** Each model's pass rate over all training examples, used when no neighbour has an outcome for it. */
  basePassRates: number[];
  size: number;
  norms: Float64Array;
  /** The indexed vectors, in training order (kept for the artefact). */
  vectors: readonly SparseVector[];
  /** Inverted index: slot → the examples that have it, and their values there. */
  postings: Map<number, { examples: Int32Array; values: Float64Array }>;
}

export interface Neighbour {
  /** Position of the example in the training list. */
  example: number;
  similarity: number;
}

/** Indexes the training examples. Models: those named in any example's passes (or the given list), in that order. */
export function trainKnn(examples: readonly TrainingExample[], settings: FeatureSettings = DEFAULT_FEATURE_SETTINGS, k = 10, models?: readonly string[]): KnnIndex {
  if (!Number.isInteger(k) || k < 1) throw new Error(`k must be a whole number of at least 1, got ${k}`);
  if (examples.length === 0) throw new Error('kNN needs at least one training example');
  const ids = models ? [...models] : [...new Set(examples.flatMap((e) => Object.keys(e.passes).filter((id) => e.passes[id] !== undefined)))];
  const vectors: SparseVector[] = examples.map((e) => featurize(e.request, e.features ?? extractFeatures(e.request), settings));
  const labels = ids.map((id) => Int8Array.from(examples, (e) => (e.passes[id] === undefined ? -1 : e.passes[id] ? 1 : 0)));
  return indexVectors(vectors, labels, settings, k, ids);
}

/** The index over already featurized examples; labels[m][i]: 1 passes, 0 fails, -1 unknown. */
export function indexVectors(vectors: readonly SparseVector[], labels: Int8Array[], settings: FeatureSettings, k: number, ids: readonly string[]): KnnIndex {
  if (!Number.isInteger(k) || k < 1) throw new Error(`k must be a whole number of at least 1, got ${k}`);
  if (vectors.length === 0) throw new Error('kNN needs at least one training example');
  const basePassRates = labels.map((column) => {
    let n = 0;
    let passed = 0;
    for (const y of column) {
      if (y < 0) continue;
      n++;
      passed += y;
    }
    return n > 0 ? passed / n : 0;
  });
  const counts = new Map<number, number>();
  for (const v of vectors) for (const j of v.indices) counts.set(j, (counts.get(j) ?? 0) + 1);
  const postings = new Map<number, { examples: Int32Array; values: Float64Array }>();
  const filled = new Map<number, number>();
  for (const [j, c] of counts) {
    postings.set(j, { examples: new Int32Array(c), values: new Float64Array(c) });
    filled.set(j, 0);
  }
  const norms = new Float64Array(vectors.length);
  vectors.forEach((v, i) => {
    let n2 = 0;
    v.indices.forEach((j, t) => {
      const list = postings.get(j)!;
      const at = filled.get(j)!;
      list.examples[at] = i;
      list.values[at] = v.values[t]!;
      filled.set(j, at + 1);
      n2 += v.values[t]! ** 2;
    });
    norms[i] = Math.sqrt(n2);
  });
  return { settings, k, models: [...ids], labels, basePassRates, size: vectors.length, norms, postings, vectors };
}

/** The k most similar training examples (cosine), most similar first; ties go to the earlier example. */
export function knnNeighbours(index: KnnIndex, x: SparseVector, k: number = index.k): Neighbour[] {
  const dots = new Float64Array(index.size);
  let n2 = 0;
  for (let t = 0; t < x.indices.length; t++) {
    const v = x.values[t]!;
    n2 += v * v;
    const list = index.postings.get(x.indices[t]!);
    if (!list) continue;
    for (let i = 0; i < list.examples.length; i++) dots[list.examples[i]!]! += v * list.values[i]!;
  }
  const norm = Math.sqrt(n2);
  // Keep the best k in a small sorted array: k is tiny next to the number of examples.
  const best: Neighbour[] = [];
  for (let i = 0; i < index.size; i++) {
    const denominator = norm * index.norms[i]!;
    const similarity = denominator > 0 ? dots[i]! / denominator : 0;
    if (best.length === k && similarity <= best[k - 1]!.similarity) continue;
    let at = best.length;
    while (at > 0 && best[at - 1]!.similarity < similarity) at--;
    best.splice(at, 0, { example: i, similarity });
    if (best.length > k) best.pop();
  }
  return best;
}

/** Each model's pass rate among the k nearest neighbours that have an outcome for it (its base rate if none do). */
export function knnPassRatesOfVector(index: KnnIndex, x: SparseVector): Record<string, number> {
  const neighbours = knnNeighbours(index, x);
  const rates: Record<string, number> = {};
  index.models.forEach((id, m) => {
    let n = 0;
    let passed = 0;
    for (const { example } of neighbours) {
      const y = index.labels[m]![example]!;
      if (y < 0) continue;
      n++;
      passed += y;
    }
    rates[id] = n > 0 ? passed / n : index.basePassRates[m]!;
  });
  return rates;
}

/** Each model's pass rate among the request's k nearest training requests. */
export function knnPassRates(index: KnnIndex, request: Pick<RouteRequest, 'prompt' | 'history'>, features: RequestFeatures): Record<string, number> {
  return knnPassRatesOfVector(index, featurize(request, features, index.settings));
}

export interface KnnRouteOptions extends CostRuleOptions {
  /** Output tokens assumed per model when pricing; default the request's expectedOutputTokens. */
  expectedOutputTokens?: Readonly<Record<string, number | null>>;
}

/** Routes by kNN pass rates with the classifier's decision rule (the offline baseline; policyVersion "knn-k<k>"). */
export function routeByKnn(index: KnnIndex, ladder: readonly Rung[], request: Pick<RouteRequest, 'prompt' | 'history'>, features: RequestFeatures, options: KnnRouteOptions = {}): RoutingDecision {
  const rates = knnPassRates(index, request, features);
  for (const r of ladder) if (rates[r.id] === undefined) throw new Error(`model "${r.id}" is on the ladder but has no outcomes in the kNN router's training data`);
  const { choice, rule } = chooseByCost(ladder, features, (id) => rates[id]!, (id) => options.expectedOutputTokens?.[id], options);
  return {
    model: choice.model,
    confidence: choice.passProbability,
    confidenceAdjustment: choice.passProbability - choice.threshold,
    alternatives: ladder.filter((r) => r.id !== choice.model).map((r) => r.id),
    reason: `kNN (k=${index.k}): ${describeChoice(choice, rule)}; pass rates are over the ${index.k} most similar training requests`,
    strategy: 'knn',
    policyVersion: `knn-k${index.k}`,
    propensity: 1,
  };
}
