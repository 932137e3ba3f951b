import {
  CLASSIFIER_ARTEFACT_FORMAT_VERSION,
  FeatureSettingsSchema,
  catalogFingerprint,
  parseClassifierArtefact,
  type ArtefactModel,
  type Calibration,
  type ClassifierArtefact,
  type FeatureSettings,
  type ModelTrainingMetrics,
  type PassModel,
} from '../../../domain/classifierArtefact';
import { parseOrThrow } from '../../../domain/validation';
import { extractFeatures } from '../../features';
import { assignFolds, type FoldAssignment } from '../../folds';
import type { TrainingExample } from '../types';
import { DEFAULT_FEATURE_SETTINGS, TEXT_OFFSET, featureDimension, featurize, textSlotNgrams, type SparseVector } from '../../textFeatures';
import { brierScore, calibrate, expectedCalibrationError, fitIsotonic, fitPlatt, logLoss, rocAuc } from './calibration';
import { denseWeights, logit, sigmoid, trainLogisticModels, type LabelColumn, type LogisticFit } from './logistic';

/** A catalog model as training needs it; expectedOutputTokens defaults to null (price the request's own estimate). */
export type ClassifierCatalogModel = Omit<ArtefactModel, 'expectedOutputTokens'> & { expectedOutputTokens?: number | null };

export interface TrainOptions {
  catalog: readonly ClassifierCatalogModel[];
  /** Stored in the artefact; the pure core reads no clock. */
  createdAt: string;
  featureSettings?: FeatureSettings;
  folds?: number;
  /** Seeds the fold assignment (assignFolds over the request ids), the only random choice in training. */
  seed?: number;
  /** These folds instead of assignFolds(request ids, folds, seed): the evaluator's, so every strategy shares them. */
  foldAssignment?: FoldAssignment;
  /**
   * L2 strength: objective = mean log loss + (l2/2)·Σ_j (w_j / s_j)², with the per-slot scales s_j of
   * penaltyScales (an IDF-weighted penalty; s_j = 1 everywhere when idfPenalty is false).
   */
  l2?: number;
  /** Penalise rare text slots less and common ones more (see penaltyScales). Default true. */
  idfPenalty?: boolean;
  maxIterations?: number;
  calibration?: Calibration['method'];
  /** The gate threshold the labels were made with (recorded quality ≥ it), kept in the artefact. */
  passThreshold?: number;
  policyVersion?: string;
  trainingData?: ClassifierArtefact['trainingData'];
  /** Significant digits kept for stored weights. */
  weightDigits?: number;
  /** Text slots per model named in the artefact (by their heaviest weights), for decision reasons. */
  namedFeaturesPerModel?: number;
  /** Called after each of the folds + 1 fits, for a progress bar. */
  onProgress?: (fitsDone: number, fitsTotal: number) => void;
}

export interface TrainResult {
  artefact: ClassifierArtefact;
  /** Per model, example i's calibrated pass probability from the fold model that did not see it (cross-fitted calibration). */
  outOfFold: Record<string, number[]>;
  /** The folds the out-of-fold predictions were held out in. */
  folds: FoldAssignment;
}

export const DEFAULT_TRAIN_OPTIONS = {
  folds: 5,
  seed: 1,
  // With the IDF-weighted penalty (penaltyScales). Measured by the eval command's 5-fold cost-to-reach table on
  // RouterBench: the plain penalty at its previous default 3e-4 cost $0.312/$0.432/$1.113/$1.453/$1.793/$2.901 per 1k
  // at 90/92/94/95/96/98 % retention; the IDF-weighted one at 1e-2 $0.302/$0.392/$1.038/$1.360/$1.683/$2.593 (better
  // at every level; plain l2 from 1e-4 to 3e-3 never was; --seed 2 folds agree), with the gated run no worse.
  l2: 1e-2,
  idfPenalty: true,
  maxIterations: 200,
  calibration: 'platt',
  passThreshold: 0.95,
  weightDigits: 4,
  namedFeaturesPerModel: 25,
} as const;

/** The gate's labels from recorded qualities: passes = quality ≥ passThreshold. */
export function labelsFromQualities(outcomes: Readonly<Record<string, { quality: number } | undefined>>, passThreshold: number = DEFAULT_TRAIN_OPTIONS.passThreshold): Record<string, boolean> {
  const passes: Record<string, boolean> = {};
  for (const [model, outcome] of Object.entries(outcomes)) if (outcome) passes[model] = outcome.quality >= passThreshold;
  return passes;
}

function roundTo(value: number, digits: number): number {
  return value === 0 ? 0 : Number(value.toPrecision(digits));
}

function fitCalibration(method: Calibration['method'], scores: number[], labels: number[]): Calibration {
  return method === 'platt' ? fitPlatt(scores, labels) : fitIsotonic(scores, labels);
}

/**
 * Dense (structured) slots' penalty scale: they are few, dense and informative (task type, length), so they are
 * penalised as much as under the previous plain l2 = 3e-4 default (1e-2 / 5² = 4e-4). 5 and 10 measured alike.
 */
const DENSE_PENALTY_SCALE = 5;

/**
 * Per-slot penalty scales s_j for the IDF-weighted penalty: a text slot's smoothed IDF over the fitted rows,
 * ln((1 + n) / (1 + df_j)) + 1 (about 1 for a word in every prompt, 8 for one seen once in 2,000), so a rare but
 * telling word may take a large weight while a word common to every task is held near 0; DENSE_PENALTY_SCALE for
 * the structured slots. Fitting on x_j·s_j with a plain L2 penalty and storing w_j·s_j is the same as penalising
 * (w_j / s_j)², so the stored model scores the unchanged feature vector and the artefact needs no IDF table.
 */
export function penaltyScales(rows: readonly SparseVector[]): Map<number, number> {
  const df = new Map<number, number>();
  for (const r of rows) for (const j of r.indices) df.set(j, (df.get(j) ?? 0) + 1);
  const scales = new Map<number, number>();
  for (const [j, count] of df) scales.set(j, j < TEXT_OFFSET ? DENSE_PENALTY_SCALE : Math.log((1 + rows.length) / (1 + count)) + 1);
  return scales;
}

/** trainLogisticModels with the IDF-weighted penalty (penaltyScales) when asked; weights are for unscaled rows. */
function fitPassModels(rows: readonly SparseVector[], labels: readonly LabelColumn[], solver: { l2: number; maxIterations: number; idfPenalty: boolean }): LogisticFit[] {
  const options = { l2: solver.l2, maxIterations: solver.maxIterations };
  if (!solver.idfPenalty) return trainLogisticModels(rows, labels, options);
  const scales = penaltyScales(rows);
  const scaled = rows.map((r) => ({ indices: r.indices, values: r.values.map((v, t) => v * scales.get(r.indices[t]!)!) }));
  return trainLogisticModels(scaled, labels, options).map((fit) => ({ ...fit, values: fit.values.map((w, t) => w * scales.get(fit.indices[t]!)!) }));
}

/**
 * Trains one calibrated pass/fail classifier per catalog model: k-fold cross-validation gives every example an
 * out-of-fold score; the calibration (Platt or isotonic) is fitted on those scores, and the stored model is
 * refitted on all examples. Reported metrics are out-of-fold, with the calibration itself cross-fitted (fold k's
 * probabilities use a calibration fitted on the other folds' scores), so they are honest held-out numbers.
 */
export function trainClassifier(examples: readonly TrainingExample[], options: TrainOptions): TrainResult {
  const d = DEFAULT_TRAIN_OPTIONS;
  const foldAssignment = options.foldAssignment;
  const o = {
    catalog: options.catalog,
    createdAt: options.createdAt,
    featureSettings: parseOrThrow(FeatureSettingsSchema, options.featureSettings ?? DEFAULT_FEATURE_SETTINGS, 'feature settings'),
    folds: foldAssignment?.folds ?? options.folds ?? d.folds,
    seed: options.seed ?? d.seed,
    l2: options.l2 ?? d.l2,
    idfPenalty: options.idfPenalty ?? d.idfPenalty,
    maxIterations: options.maxIterations ?? d.maxIterations,
    calibration: options.calibration ?? d.calibration,
    passThreshold: options.passThreshold ?? d.passThreshold,
    weightDigits: options.weightDigits ?? d.weightDigits,
    namedFeaturesPerModel: options.namedFeaturesPerModel ?? d.namedFeaturesPerModel,
  };
  const models = o.catalog.map((m) => m.id);
  if (models.length === 0) throw new Error('the catalog must list at least one model');
  if (!Number.isInteger(o.folds) || o.folds < 2) throw new Error(`folds must be a whole number of at least 2, got ${o.folds}`);
  if (!(o.l2 > 0)) throw new Error(`l2 must be greater than 0, got ${o.l2}`);
  if (examples.length < o.folds) throw new Error(`need at least ${o.folds} examples for ${o.folds}-fold cross-validation, got ${examples.length}`);

  const vectors: SparseVector[] = examples.map((e) => featurize(e.request, e.features ?? extractFeatures(e.request), o.featureSettings));
  const labels: LabelColumn[] = models.map((id) => Int8Array.from(examples, (e) => (e.passes[id] === undefined ? -1 : e.passes[id] ? 1 : 0)));
  labels.forEach((column, m) => {
    if (!column.some((y) => y >= 0)) throw new Error(`no training example has an outcome for model "${models[m]}"`);
  });
  const folds = foldAssignment ?? assignFolds(examples.map((e) => e.request.requestId), o.folds, o.seed);
  if (folds.foldOf.length !== examples.length) throw new Error(`the fold assignment covers ${folds.foldOf.length} examples, not ${examples.length}`);
  const { foldOf } = folds;
  const dimension = featureDimension(o.featureSettings);
  const solver = { l2: o.l2, maxIterations: o.maxIterations, idfPenalty: o.idfPenalty };

  const raw = models.map(() => new Float64Array(examples.length));
  for (let k = 0; k < o.folds; k++) {
    const train = examples.map((_, i) => i).filter((i) => foldOf[i] !== k);
    const fits = fitPassModels(
      train.map((i) => vectors[i]!),
      labels.map((column) => Int8Array.from(train, (i) => column[i]!)),
      solver,
    );
    fits.forEach((fit, m) => {
      const w = denseWeights(fit, dimension);
      examples.forEach((_, i) => {
        if (foldOf[i] === k) raw[m]![i] = logit(fit.bias, w, vectors[i]!);
      });
    });
    options.onProgress?.(k + 1, o.folds + 1);
  }

  const outOfFold: Record<string, number[]> = {};
  const trainingMetrics: Record<string, ModelTrainingMetrics> = {};
  const calibrations: Calibration[] = [];
  models.forEach((id, m) => {
    const column = labels[m]!;
    const labelled = examples.map((_, i) => i).filter((i) => column[i]! >= 0);
    const calibrated = new Array<number>(examples.length);
    for (let k = 0; k < o.folds; k++) {
      const others = labelled.filter((i) => foldOf[i] !== k);
      const cal = fitCalibration(o.calibration, others.map((i) => raw[m]![i]!), others.map((i) => column[i]!));
      examples.forEach((_, i) => {
        if (foldOf[i] === k) calibrated[i] = calibrate(cal, raw[m]![i]!);
      });
    }
    outOfFold[id] = calibrated;
    const y = labelled.map((i) => column[i]!);
    const before = labelled.map((i) => sigmoid(raw[m]![i]!));
    const after = labelled.map((i) => calibrated[i]!);
    trainingMetrics[id] = {
      n: labelled.length,
      basePassRate: y.reduce((s, v) => s + v, 0) / labelled.length,
      logLoss: logLoss(after, y),
      brier: brierScore(after, y),
      eceBefore: expectedCalibrationError(before, y),
      eceAfter: expectedCalibrationError(after, y),
      auc: rocAuc(labelled.map((i) => raw[m]![i]!), y),
    };
    calibrations.push(fitCalibration(o.calibration, labelled.map((i) => raw[m]![i]!), y));
  });

  const finalFits = fitPassModels(vectors, labels, solver);
  options.onProgress?.(o.folds + 1, o.folds + 1);
  const passModels: Record<string, PassModel> = {};
  finalFits.forEach((fit, m) => {
    const indices: number[] = [];
    const values: number[] = [];
    fit.indices.forEach((j, i) => {
      const v = roundTo(fit.values[i]!, o.weightDigits);
      if (v !== 0) {
        indices.push(j);
        values.push(v);
      }
    });
    passModels[models[m]!] = { bias: roundTo(fit.bias, o.weightDigits + 2), indices, values, calibration: calibrations[m]! };
  });

  const catalog: ArtefactModel[] = o.catalog.map((m) => ({
    id: m.id,
    tier: m.tier,
    inputUsdPer1M: m.inputUsdPer1M,
    outputUsdPer1M: m.outputUsdPer1M,
    expectedOutputTokens: m.expectedOutputTokens ?? null,
  }));
  const artefact: ClassifierArtefact = {
    formatVersion: CLASSIFIER_ARTEFACT_FORMAT_VERSION,
    createdAt: o.createdAt,
    policyVersion: options.policyVersion ?? `classifier@${o.createdAt}`,
    featureSettings: o.featureSettings,
    passThreshold: o.passThreshold,
    catalog,
    catalogFingerprint: catalogFingerprint(catalog),
    trainingData: options.trainingData ?? [],
    training: { examples: examples.length, folds: o.folds, seed: o.seed, l2: o.l2, maxIterations: o.maxIterations },
    models: passModels,
    featureNames: nameTextSlots(examples, vectors, passModels, o.featureSettings, o.namedFeaturesPerModel),
    trainingMetrics,
  };
  // What train writes must be what the router can load.
  return { artefact: parseClassifierArtefact(artefact), outOfFold, folds };
}

/**
 * Names each model's most influential text slots — largest total |weight × value| over the training requests, so
 * a frequent informative word outranks a one-off token the model memorised — by the n-gram that lands there most
 * often in the training requests.
 */
function nameTextSlots(
  examples: readonly TrainingExample[],
  vectors: readonly SparseVector[],
  models: Readonly<Record<string, PassModel>>,
  settings: FeatureSettings,
  perModel: number,
): Record<string, string> {
  const dimension = featureDimension(settings);
  const wanted = new Set<number>();
  for (const m of Object.values(models)) {
    const w = denseWeights(m, dimension);
    const influence = new Float64Array(dimension);
    for (const x of vectors) {
      for (let i = 0; i < x.indices.length; i++) influence[x.indices[i]!]! += Math.abs(w[x.indices[i]!]! * x.values[i]!);
    }
    const slots: number[] = [];
    for (let j = TEXT_OFFSET; j < dimension; j++) if (influence[j]! > 0) slots.push(j);
    slots.sort((a, b) => influence[b]! - influence[a]! || a - b);
    for (const j of slots.slice(0, perModel)) wanted.add(j);
  }
  const counts = new Map<number, Map<string, number>>();
  for (const e of examples) textSlotNgrams(e.request, settings, wanted, counts);
  const names: Record<string, string> = {};
  for (const slot of [...counts.keys()].sort((a, b) => a - b)) {
    const grams = [...counts.get(slot)!].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    // A slot can hold several n-grams (hash collisions); the name says so when the top one is not most of it.
    const total = grams.reduce((n, g) => n + g[1], 0);
    names[String(slot)] = grams[0]![1] * 2 >= total ? grams[0]![0] : `${grams[0]![0]} (+${grams.length - 1} more)`;
  }
  return names;
}
