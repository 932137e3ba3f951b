import type { ClassifierArtefact } from '../../../domain/classifierArtefact';
import type { RouteRequest } from '../../../domain/request';
import type { RequestFeatures } from '../../../domain/results';
import { featureDimension, featureName, featurize, type SparseVector } from '../../textFeatures';
import { calibrate } from './calibration';

/** An artefact's weights laid out for scoring: slot-major, one entry per catalog model (in catalog order). */
interface CompiledArtefact {
  ids: string[];
  weights: Float64Array;
  bias: Float64Array;
}

// Compiled once per loaded artefact object (the route activity caches the artefact per worker).
const compiled = new WeakMap<ClassifierArtefact, CompiledArtefact>();

function compile(artefact: ClassifierArtefact): CompiledArtefact {
  const cached = compiled.get(artefact);
  if (cached) return cached;
  const ids = artefact.catalog.map((m) => m.id);
  const M = ids.length;
  const weights = new Float64Array(featureDimension(artefact.featureSettings) * M);
  const bias = new Float64Array(M);
  ids.forEach((id, m) => {
    const model = artefact.models[id]!;
    bias[m] = model.bias;
    model.indices.forEach((j, i) => (weights[j * M + m] = model.values[i]!));
  });
  const result = { ids, weights, bias };
  compiled.set(artefact, result);
  return result;
}

/** The artefact's feature vector of a request. */
export function requestVector(artefact: Pick<ClassifierArtefact, 'featureSettings'>, request: Pick<RouteRequest, 'prompt' | 'history'>, features: RequestFeatures): SparseVector {
  return featurize(request, features, artefact.featureSettings);
}

/** Raw scores (logits) of every catalog model for a feature vector. */
export function passLogits(artefact: ClassifierArtefact, x: SparseVector): Record<string, number> {
  const { ids, weights, bias } = compile(artefact);
  const M = ids.length;
  const z = Float64Array.from(bias);
  for (let i = 0; i < x.indices.length; i++) {
    const base = x.indices[i]! * M;
    const v = x.values[i]!;
    for (let m = 0; m < M; m++) z[m]! += weights[base + m]! * v;
  }
  const out: Record<string, number> = {};
  ids.forEach((id, m) => (out[id] = z[m]!));
  return out;
}

/** Calibrated pass probabilities of every catalog model for a feature vector. */
export function passProbabilitiesOfVector(artefact: ClassifierArtefact, x: SparseVector): Record<string, number> {
  const logits = passLogits(artefact, x);
  const out: Record<string, number> = {};
  for (const [id, z] of Object.entries(logits)) out[id] = calibrate(artefact.models[id]!.calibration, z);
  return out;
}

/** Each catalog model's calibrated probability of passing the gate on this request. */
export function passProbabilities(artefact: ClassifierArtefact, request: Pick<RouteRequest, 'prompt' | 'history'>, features: RequestFeatures): Record<string, number> {
  return passProbabilitiesOfVector(artefact, requestVector(artefact, request, features));
}

export interface FeatureContribution {
  /** A structured feature's name, a text n-gram in quotes, or "text n-gram #slot" when unnamed. */
  name: string;
  /** weight × value: how far this feature moved the model's logit (positive: towards passing). */
  contribution: number;
}

/** The features that moved `modelId`'s pass score most on this vector, largest |contribution| first. */
export function topFeaturesOfVector(artefact: ClassifierArtefact, x: SparseVector, modelId: string, count = 3): FeatureContribution[] {
  const { ids, weights } = compile(artefact);
  const m = ids.indexOf(modelId);
  if (m < 0) throw new Error(`model "${modelId}" is not in the classifier's catalog`);
  const contributions: { index: number; contribution: number }[] = [];
  for (let i = 0; i < x.indices.length; i++) {
    const c = weights[x.indices[i]! * ids.length + m]! * x.values[i]!;
    if (c !== 0) contributions.push({ index: x.indices[i]!, contribution: c });
  }
  contributions.sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution) || a.index - b.index);
  return contributions.slice(0, count).map((c) => ({ name: featureName(c.index, artefact.featureNames), contribution: c.contribution }));
}

/** The features that moved `modelId`'s pass score most on this request. */
export function topFeatures(artefact: ClassifierArtefact, request: Pick<RouteRequest, 'prompt' | 'history'>, features: RequestFeatures, modelId: string, count = 3): FeatureContribution[] {
  return topFeaturesOfVector(artefact, requestVector(artefact, request, features), modelId, count);
}

/** "name (+0.42), name (−0.10)" for decision reasons. */
export function describeContributions(contributions: readonly FeatureContribution[]): string {
  return contributions.map((c) => `${c.name} (${c.contribution >= 0 ? '+' : '−'}${Math.abs(c.contribution).toFixed(2)})`).join(', ');
}
