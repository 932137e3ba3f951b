import type { ClassifierArtefact } from '../../domain/classifierArtefact';
import type { ModelSpec } from '../../domain/catalog';
import type { RequestFeatures } from '../../domain/results';
import { extractFeatures } from '../../routing/features';
import { escalationLadder, type Rung } from '../../routing/ladder';
import { candidatesAndRule, chooseByThreshold } from '../../routing/classifier/decide';
import { knnPassRates, trainKnn } from '../../routing/classifier/knn';
import { passProbabilities } from '../../routing/classifier/predict';
import { labelsFromQualities, type ClassifierCatalogModel, type TrainingExample } from '../../routing/classifier/train';
import { DEFAULT_FEATURE_SETTINGS } from '../../routing/textFeatures';
import type { RouterFamily } from './baselines';
import type { EvalRow } from './dataset';
import { crossValidate } from './evaluate';

/*
 * The learned strategies as router families for the offline harness (the knob is λ). Probabilities are computed
 * once per row and cached, so sweeping λ only re-runs the decision rule, the same rule the route activity runs.
 */

export function trainingExamples(rows: readonly EvalRow[], passThreshold: number): TrainingExample[] {
  return rows.map((row) => ({ request: row.request, passes: labelsFromQualities(row.outcomes, passThreshold) }));
}

export function classifierCatalog(catalog: readonly ModelSpec[]): ClassifierCatalogModel[] {
  return catalog.map(({ id, tier, inputUsdPer1M, outputUsdPer1M }) => ({ id, tier, inputUsdPer1M, outputUsdPer1M }));
}

type PassProbabilities = (row: EvalRow, features: RequestFeatures) => Readonly<Record<string, number>>;

/** A λ family over any source of pass probabilities, with the route activity's decision rule. */
function thresholdFamily(catalog: readonly ModelSpec[], judgeCostRatio: number, probabilities: PassProbabilities, expectedOutputTokens: (id: string) => number | null = () => null): RouterFamily {
  const ladder: Rung[] = escalationLadder(catalog);
  const cache = new Map<string, { features: RequestFeatures; p: Readonly<Record<string, number>> }>();
  const of = (row: EvalRow) => {
    let hit = cache.get(row.rowId);
    if (!hit) {
      const features = extractFeatures(row.request);
      hit = { features, p: probabilities(row, features) };
      cache.set(row.rowId, hit);
    }
    return hit;
  };
  return (lambda) => (row) => {
    const { features, p } = of(row);
    const { candidates, best, rule } = candidatesAndRule(ladder, features, (id) => p[id]!, expectedOutputTokens, { lambda, judgeCostRatio });
    const choice = chooseByThreshold(candidates, best.id, rule);
    return { model: choice.model, confidence: choice.passProbability };
  };
}

/** A trained artefact, applied as the route activity applies it (in-sample when the rows are its training data). */
export function artefactFamily(artefact: ClassifierArtefact, catalog: readonly ModelSpec[], judgeCostRatio: number): RouterFamily {
  const outputTokens = new Map(artefact.catalog.map((m) => [m.id, m.expectedOutputTokens]));
  return thresholdFamily(catalog, judgeCostRatio, (row, features) => passProbabilities(artefact, row.request, features), (id) => outputTokens.get(id) ?? null);
}

/**
 * Cross-validated classifier: each row's pass probabilities come from the fold model that never saw it
 * (trainClassifier's out-of-fold predictions, calibrated on the other folds), so the curve is a held-out one.
 */
export function outOfFoldFamily(rows: readonly EvalRow[], outOfFold: Readonly<Record<string, readonly number[]>>, catalog: readonly ModelSpec[], judgeCostRatio: number): RouterFamily {
  const index = new Map(rows.map((r, i) => [r.rowId, i]));
  return thresholdFamily(catalog, judgeCostRatio, (row) => {
    const i = index.get(row.rowId);
    if (i === undefined) throw new Error(`row "${row.rowId}" has no out-of-fold prediction`);
    return Object.fromEntries(Object.entries(outOfFold).map(([id, p]) => [id, p[i]!]));
  });
}

/** The kNN baseline under the same k-fold split protocol: each fold's index is built without that fold. */
export function knnCrossValidated(rows: readonly EvalRow[], options: { k: number; folds: number; seed: number; passThreshold: number; catalog: readonly ModelSpec[]; judgeCostRatio: number }): RouterFamily {
  return crossValidate(rows, options.folds, options.seed, (trainRows) => {
    const index = trainKnn(trainingExamples(trainRows, options.passThreshold), DEFAULT_FEATURE_SETTINGS, options.k, options.catalog.map((m) => m.id));
    return thresholdFamily(options.catalog, options.judgeCostRatio, (row, features) => knnPassRates(index, row.request, features));
  }).family;
}
