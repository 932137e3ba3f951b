import type { RouteRequest } from '../../../domain/request';
import type { RequestFeatures } from '../../../domain/results';
import { DEFAULT_FEATURE_SETTINGS, TEXT_OFFSET, denseValues, featurize } from '../../textFeatures';
import { CONTEXT_DIMENSION, TEXT_FOLD } from './dimension';

/*
 * What the bandit knows of a request. The bucket (task type × domain risk × length band) keys its per-context
 * statistics; the vector (a bias, the classifier's structured features including customer tier and time
 * sensitivity, and the hashed words folded into TEXT_FOLD slots) feeds linear Thompson sampling. Both are small
 * enough to travel with every outcome and to sit in the decision log.
 */

/** Prompt-token bands: short < 200 ≤ medium < 1000 ≤ long. */
export function lengthBand(promptTokens: number): 'short' | 'medium' | 'long' {
  return promptTokens < 200 ? 'short' : promptTokens < 1000 ? 'medium' : 'long';
}

export function contextBucket(features: RequestFeatures): string {
  return `${features.taskType}|${features.domainRisk}|${lengthBand(features.promptTokens)}`;
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;

export function banditContext(features: RequestFeatures, request: Pick<RouteRequest, 'prompt' | 'history'>): { bucket: string; vector: number[] } {
  const text = new Array<number>(TEXT_FOLD).fill(0);
  const x = featurize(request, features, DEFAULT_FEATURE_SETTINGS);
  x.indices.forEach((j, i) => {
    if (j >= TEXT_OFFSET) text[(j - TEXT_OFFSET) % TEXT_FOLD]! += x.values[i]!;
  });
  const norm = Math.sqrt(text.reduce((s, v) => s + v * v, 0));
  const vector = [1, ...denseValues(features), ...text.map((v) => (norm > 0 ? v / norm : 0))].map(round);
  if (vector.length !== CONTEXT_DIMENSION) throw new Error(`bandit context has ${vector.length} slots, CONTEXT_DIMENSION says ${CONTEXT_DIMENSION}`);
  return { bucket: contextBucket(features), vector };
}
