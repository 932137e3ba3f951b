import type { Forgetting, LinearArm } from './types';

/*
 * Bayesian linear regression of each reward component on the context vector x, one model per arm, for linear
 * Thompson sampling. With A = ρI + Σxxᵀ and b = ρθ₀ + Σx·y, the posterior of θ is N(A⁻¹b, v²A⁻¹), so the sampled
 * score xᵀθ is itself Gaussian: mean xᵀA⁻¹b, standard deviation v·√(xᵀA⁻¹x). Discounting scales the data terms
 * (never the prior ρI), so A stays invertible.
 */

/** Prior precision ρ: one pseudo-observation's worth of weight on the prior mean. */
export const PRIOR_PRECISION = 1;
/** Noise scale v of the sampled score. */
export const SCORE_SCALE = 0.3;

const triangle = (d: number) => (d * (d + 1)) / 2;

export function emptyLinearArm(d: number, step: number): LinearArm {
  return { t: step, xx: new Array<number>(triangle(d)).fill(0), xq: new Array<number>(d).fill(0), xc: new Array<number>(d).fill(0), xl: new Array<number>(d).fill(0) };
}

function decayFactor(arm: LinearArm, forgetting: Forgetting, step: number): number {
  if (forgetting.kind === 'discount') return Math.pow(forgetting.factor, step - arm.t);
  // A window is approximated by the discount with the same mean age.
  if (forgetting.kind === 'window') return Math.pow(1 - 1 / forgetting.size, step - arm.t);
  return 1;
}

/**
 * Folds one observation into the arm's model at `step`. A correction (a user's feedback on an outcome already
 * folded) adds its targets' difference without counting as another observation.
 */
export function updateLinear(arm: LinearArm, x: readonly number[], y: { q: number; c: number; l: number }, forgetting: Forgetting, step: number, correction = false): void {
  const w = correction ? 0 : 1;
  const f = decayFactor(arm, forgetting, step);
  const d = x.length;
  let k = 0;
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++, k++) arm.xx[k] = arm.xx[k]! * f + w * x[i]! * x[j]!;
    arm.xq[i] = arm.xq[i]! * f + x[i]! * y.q;
    arm.xc[i] = arm.xc[i]! * f + x[i]! * y.c;
    arm.xl[i] = arm.xl[i]! * f + x[i]! * y.l;
  }
  arm.t = step;
}

export interface LinearPosterior {
  /** Cholesky factor of A, lower triangle row by row (d×d dense). */
  chol: Float64Array;
  d: number;
  thetaQ: Float64Array;
  thetaC: Float64Array;
  thetaL: Float64Array;
  /** Effective number of observations (the bias coordinate's weight). */
  n: number;
}

function cholesky(a: Float64Array, d: number): Float64Array {
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j]!;
      for (let k = 0; k < j; k++) s -= l[i * d + k]! * l[j * d + k]!;
      l[i * d + j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / l[j * d + j]!;
    }
  }
  return l;
}

/** Solves L u = x (forward substitution). */
function forward(l: Float64Array, d: number, x: ArrayLike<number>): Float64Array {
  const u = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = x[i]!;
    for (let k = 0; k < i; k++) s -= l[i * d + k]! * u[k]!;
    u[i] = s / l[i * d + i]!;
  }
  return u;
}

/** Solves Lᵀ θ = u (back substitution). */
function backward(l: Float64Array, d: number, u: Float64Array): Float64Array {
  const theta = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let s = u[i]!;
    for (let k = i + 1; k < d; k++) s -= l[k * d + i]! * theta[k]!;
    theta[i] = s / l[i * d + i]!;
  }
  return theta;
}

/**
 * The arm's posterior at `step`. The prior mean puts `prior.q` and `prior.c` on the bias coordinate (x[0] = 1): an
 * untried arm is expected to pass as often as the prior says and to cost its price ratio.
 */
export function linearPosterior(arm: LinearArm | undefined, d: number, prior: { q: number; c: number }, forgetting: Forgetting, step: number): LinearPosterior {
  const data = arm ?? emptyLinearArm(d, step);
  const f = decayFactor(data, forgetting, step);
  const a = new Float64Array(d * d);
  let k = 0;
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++, k++) {
      const v = data.xx[k]! * f + (i === j ? PRIOR_PRECISION : 0);
      a[i * d + j] = v;
      a[j * d + i] = v;
    }
  }
  const chol = cholesky(a, d);
  const solve = (xy: readonly number[], priorBias: number) => {
    const b = xy.map((v) => v * f);
    b[0] = b[0]! + PRIOR_PRECISION * priorBias;
    return backward(chol, d, forward(chol, d, b));
  };
  return { chol, d, thetaQ: solve(data.xq, prior.q), thetaC: solve(data.xc, prior.c), thetaL: solve(data.xl, 0), n: data.xx[0]! * f };
}

/** The score's Gaussian for context x: mean of quality − λ·cost − μ·latency, and the sampling standard deviation. */
export function scoreDistribution(post: LinearPosterior, x: readonly number[], lambda: number, mu: number): { mean: number; sd: number; quality: number; cost: number; latency: number } {
  let quality = 0;
  let cost = 0;
  let latency = 0;
  for (let i = 0; i < post.d; i++) {
    quality += x[i]! * post.thetaQ[i]!;
    cost += x[i]! * post.thetaC[i]!;
    latency += x[i]! * post.thetaL[i]!;
  }
  const u = forward(post.chol, post.d, x);
  let uu = 0;
  for (let i = 0; i < post.d; i++) uu += u[i]! * u[i]!;
  return { mean: quality - lambda * cost - mu * latency, sd: SCORE_SCALE * Math.sqrt(uu), quality, cost, latency };
}
