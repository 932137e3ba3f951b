import type { Calibration } from '../../../domain/classifierArtefact';
import { sigmoid } from './logistic';

/*
 * Turning classifier scores into probabilities that mean what they say, and measuring how well they do. A routing
 * threshold compares a probability with a cost ratio, so a model that says 0.9 must pass about 90 % of the time.
 */

type Labels = ArrayLike<number | boolean>;

function label(labels: Labels, i: number): number {
  return labels[i] === true || labels[i] === 1 ? 1 : 0;
}

/**
 * Platt scaling: p = sigmoid(a·score + b), fitted by Newton's method on the log loss with Platt's smoothed
 * targets ((N₊+1)/(N₊+2) and 1/(N₋+2)), which keep a and b finite on separable scores (Lin, Lin & Weng 2007).
 */
export function fitPlatt(scores: ArrayLike<number>, labels: Labels): Extract<Calibration, { method: 'platt' }> {
  const n = scores.length;
  let positives = 0;
  for (let i = 0; i < n; i++) positives += label(labels, i);
  const hi = (positives + 1) / (positives + 2);
  const lo = 1 / (n - positives + 2);
  const target = (i: number) => (label(labels, i) === 1 ? hi : lo);
  const objective = (a: number, b: number) => {
    let f = 0;
    for (let i = 0; i < n; i++) {
      const z = a * scores[i]! + b;
      const t = target(i);
      // t·softplus(-z) + (1-t)·softplus(z), computed stably.
      f += z >= 0 ? t * Math.log1p(Math.exp(-z)) + (1 - t) * (z + Math.log1p(Math.exp(-z))) : t * (Math.log1p(Math.exp(z)) - z) + (1 - t) * Math.log1p(Math.exp(z));
    }
    return f;
  };
  let a = 1;
  let b = 0;
  let f = objective(a, b);
  for (let iteration = 0; iteration < 100; iteration++) {
    let ga = 0;
    let gb = 0;
    let haa = 1e-12;
    let hab = 0;
    let hbb = 1e-12;
    for (let i = 0; i < n; i++) {
      const s = scores[i]!;
      const p = sigmoid(a * s + b);
      const r = p - target(i);
      const w = p * (1 - p);
      ga += r * s;
      gb += r;
      haa += w * s * s;
      hab += w * s;
      hbb += w;
    }
    if (Math.max(Math.abs(ga), Math.abs(gb)) < 1e-10 * Math.max(1, n)) break;
    const det = haa * hbb - hab * hab;
    const da = -(hbb * ga - hab * gb) / det;
    const db = -(haa * gb - hab * ga) / det;
    let step = 1;
    let next = objective(a + da, b + db);
    while (next > f + 1e-4 * step * (ga * da + gb * db) && step > 1e-10) {
      step /= 2;
      next = objective(a + step * da, b + step * db);
    }
    if (step <= 1e-10) break;
    a += step * da;
    b += step * db;
    const improvement = f - next;
    f = next;
    if (improvement < 1e-12 * Math.max(1, Math.abs(f))) break;
  }
  return { method: 'platt', a, b };
}

/**
 * Isotonic regression (pool-adjacent-violators) of labels on scores: the best non-decreasing step function, stored
 * as the scores at each block's centre and the block's pass rate, and applied piecewise-linearly between them.
 */
export function fitIsotonic(scores: ArrayLike<number>, labels: Labels): Extract<Calibration, { method: 'isotonic' }> {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((i, j) => scores[i]! - scores[j]! || i - j);
  const blocks: { sum: number; count: number; scoreSum: number }[] = [];
  for (let k = 0; k < order.length; ) {
    // Tied scores form one block from the start, so equal scores always map to equal probabilities.
    let sum = 0;
    let count = 0;
    let scoreSum = 0;
    const s = scores[order[k]!]!;
    while (k < order.length && scores[order[k]!] === s) {
      sum += label(labels, order[k]!);
      count++;
      scoreSum += s;
      k++;
    }
    blocks.push({ sum, count, scoreSum });
    while (blocks.length > 1) {
      const last = blocks[blocks.length - 1]!;
      const prev = blocks[blocks.length - 2]!;
      if (prev.sum / prev.count <= last.sum / last.count) break;
      blocks.pop();
      prev.sum += last.sum;
      prev.count += last.count;
      prev.scoreSum += last.scoreSum;
    }
  }
  if (blocks.length === 0) return { method: 'isotonic', scores: [0], probabilities: [0.5] };
  return {
    method: 'isotonic',
    scores: blocks.map((b) => b.scoreSum / b.count),
    probabilities: blocks.map((b) => b.sum / b.count),
  };
}

/** The calibrated probability of a raw score (a logit). */
export function calibrate(calibration: Calibration, score: number): number {
  if (calibration.method === 'platt') return sigmoid(calibration.a * score + calibration.b);
  const { scores, probabilities } = calibration;
  if (score <= scores[0]!) return probabilities[0]!;
  const last = scores.length - 1;
  if (score >= scores[last]!) return probabilities[last]!;
  let lo = 0;
  let hi = last;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (scores[mid]! <= score) lo = mid;
    else hi = mid;
  }
  const t = (score - scores[lo]!) / (scores[hi]! - scores[lo]!);
  return probabilities[lo]! + t * (probabilities[hi]! - probabilities[lo]!);
}

/**
 * Expected calibration error: probabilities binned into `bins` equal-width bins (1.0 falls in the last), and the
 * count-weighted mean over bins of |mean probability − pass rate|. 0 for a perfectly calibrated predictor.
 */
export function expectedCalibrationError(probs: ArrayLike<number>, labels: Labels, bins = 10): number {
  const n = probs.length;
  if (n === 0) return 0;
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  const count = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    const b = Math.min(bins - 1, Math.max(0, Math.floor(probs[i]! * bins)));
    sumP[b]! += probs[i]!;
    sumY[b]! += label(labels, i);
    count[b]!++;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (count[b]! > 0) ece += Math.abs(sumP[b]! - sumY[b]!) / n;
  return ece;
}

/** Mean log loss, probabilities clipped to [1e-15, 1 − 1e-15]. */
export function logLoss(probs: ArrayLike<number>, labels: Labels): number {
  let sum = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = Math.min(1 - 1e-15, Math.max(1e-15, probs[i]!));
    sum -= label(labels, i) === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return probs.length > 0 ? sum / probs.length : 0;
}

/** Mean squared error of the probabilities. */
export function brierScore(probs: ArrayLike<number>, labels: Labels): number {
  let sum = 0;
  for (let i = 0; i < probs.length; i++) sum += (probs[i]! - label(labels, i)) ** 2;
  return probs.length > 0 ? sum / probs.length : 0;
}

/**
 * Area under the ROC curve: the probability that a random passing example scores above a random failing one,
 * ties counting half (Mann–Whitney). 0.5 when either class is absent.
 */
export function rocAuc(scores: ArrayLike<number>, labels: Labels): number {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((i, j) => scores[i]! - scores[j]!);
  let positives = 0;
  let rankSum = 0;
  for (let k = 0; k < order.length; ) {
    let end = k;
    while (end + 1 < order.length && scores[order[end + 1]!] === scores[order[k]!]) end++;
    const midRank = (k + end) / 2 + 1;
    for (let t = k; t <= end; t++) {
      if (label(labels, order[t]!) === 1) {
        positives++;
        rankSum += midRank;
      }
    }
    k = end + 1;
  }
  const negatives = scores.length - positives;
  if (positives === 0 || negatives === 0) return 0.5;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}
