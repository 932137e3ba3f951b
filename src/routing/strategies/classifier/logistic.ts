import type { SparseVector } from '../../textFeatures';

/*
 * L2-regularised logistic regression on sparse vectors, one model per output (catalog model) on shared rows.
 *
 * Solver: full-batch L-BFGS per output. Why: the objective is strictly convex, so the solver reaches the one
 * optimum whatever the order of the data — training is deterministic with no shuffling and no learning-rate
 * schedule to tune, unlike SGD/AdaGrad, whose result depends on order, step size and when it stops. A pass over the
 * data is the cost unit; L-BFGS needs a few dozen, and a pass over 2,000 RouterBench prompts (~300 non-zeros each)
 * takes about a millisecond, over the slots that occur in the training rows only.
 */

export interface LogisticOptions {
  /** Objective: mean log loss + (l2 / 2)·‖w‖² (the bias is not penalised). */
  l2: number;
  maxIterations: number;
  /** Stop when the objective improves by less than this, relative, or the gradient's largest entry is below it. */
  tolerance?: number;
  /** L-BFGS memory (correction pairs). */
  memory?: number;
}

export interface LogisticFit {
  bias: number;
  /** Weights of the slots seen in training (strictly increasing indices); every other slot weighs 0. */
  indices: number[];
  values: number[];
  iterations: number;
  converged: boolean;
}

/** Label of example i for one output: 1 passes, 0 fails, -1 unknown (the example is skipped for that output). */
export type LabelColumn = Int8Array;

function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

export function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** Rows in compressed-sparse-row form over the slots that occur in them (local column numbers). */
interface CompactRows {
  rowStart: Int32Array;
  column: Int32Array;
  value: Float64Array;
  /** Global slot of each local column, increasing. */
  slots: number[];
}

function compact(rows: readonly SparseVector[]): CompactRows {
  const used = new Set<number>();
  let nnz = 0;
  for (const r of rows) {
    for (const j of r.indices) used.add(j);
    nnz += r.indices.length;
  }
  const slots = [...used].sort((a, b) => a - b);
  const local = new Map<number, number>();
  slots.forEach((s, i) => local.set(s, i));
  const rowStart = new Int32Array(rows.length + 1);
  const column = new Int32Array(nnz);
  const value = new Float64Array(nnz);
  let k = 0;
  rows.forEach((r, i) => {
    for (let t = 0; t < r.indices.length; t++) {
      column[k] = local.get(r.indices[t]!)!;
      value[k++] = r.values[t]!;
    }
    rowStart[i + 1] = k;
  });
  return { rowStart, column, value, slots };
}

/** One output's objective at x (weights then bias); its gradient is written to `g`. */
function evaluate(data: CompactRows, labels: LabelColumn, invN: number, l2: number, x: Float64Array, g: Float64Array): number {
  const D = data.slots.length;
  const { rowStart, column, value } = data;
  const bias = x[D]!;
  g.fill(0);
  let loss = 0;
  let gBias = 0;
  for (let i = 0; i + 1 < rowStart.length; i++) {
    const y = labels[i]!;
    if (y < 0) continue;
    const from = rowStart[i]!;
    const to = rowStart[i + 1]!;
    let z = bias;
    for (let k = from; k < to; k++) z += x[column[k]!]! * value[k]!;
    loss += y === 1 ? softplus(-z) : softplus(z);
    const r = (sigmoid(z) - y) * invN;
    for (let k = from; k < to; k++) g[column[k]!]! += r * value[k]!;
    gBias += r;
  }
  let penalty = 0;
  for (let j = 0; j < D; j++) {
    g[j]! += l2 * x[j]!;
    penalty += x[j]! * x[j]!;
  }
  g[D] = gBias;
  return loss * invN + 0.5 * l2 * penalty;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function maxAbs(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s = Math.max(s, Math.abs(a[i]!));
  return s;
}

interface SolverState {
  g: Float64Array;
  s: Float64Array[];
  y: Float64Array[];
}

/** L-BFGS two-loop recursion: -H·g from the stored correction pairs. */
function direction(state: SolverState): Float64Array {
  const q = Float64Array.from(state.g);
  const size = q.length;
  const k = state.s.length;
  const alpha = new Float64Array(k);
  const rho = state.s.map((s, i) => 1 / dot(state.y[i]!, s));
  for (let i = k - 1; i >= 0; i--) {
    const a = rho[i]! * dot(state.s[i]!, q);
    alpha[i] = a;
    const yi = state.y[i]!;
    for (let j = 0; j < size; j++) q[j]! -= a * yi[j]!;
  }
  if (k > 0) {
    const gamma = dot(state.s[k - 1]!, state.y[k - 1]!) / dot(state.y[k - 1]!, state.y[k - 1]!);
    for (let j = 0; j < size; j++) q[j]! *= gamma;
  }
  for (let i = 0; i < k; i++) {
    const c = alpha[i]! - rho[i]! * dot(state.y[i]!, q);
    const si = state.s[i]!;
    for (let j = 0; j < size; j++) q[j]! += c * si[j]!;
  }
  for (let j = 0; j < size; j++) q[j] = -q[j]!;
  return q;
}

/**
 * Fits one logistic model per label column on the same rows. `labels[m][i]` is example i's label for output m
 * (-1 = unknown). Deterministic: the same rows and labels give bit-identical weights.
 */
export function trainLogisticModels(rows: readonly SparseVector[], labels: readonly LabelColumn[], options: LogisticOptions): LogisticFit[] {
  for (const column of labels) if (column.length !== rows.length) throw new Error('every label column must have one label per row');
  const data = compact(rows);
  return labels.map((column) => {
    const fit = minimise(data, column, options);
    const indices: number[] = [];
    const values: number[] = [];
    data.slots.forEach((slot, j) => {
      if (fit.x[j] !== 0) {
        indices.push(slot);
        values.push(fit.x[j]!);
      }
    });
    return { bias: fit.x[data.slots.length]!, indices, values, iterations: fit.iterations, converged: fit.converged };
  });
}

/** L-BFGS with a backtracking (Armijo) line search on one output's objective, from w = 0, bias = 0. */
function minimise(data: CompactRows, labels: LabelColumn, options: LogisticOptions): { x: Float64Array; iterations: number; converged: boolean } {
  const tolerance = options.tolerance ?? 1e-7;
  const memory = options.memory ?? 6;
  const n = labels.reduce((count, y) => count + (y >= 0 ? 1 : 0), 0);
  const invN = n > 0 ? 1 / n : 0;
  const size = data.slots.length + 1;
  let x: Float64Array = new Float64Array(size);
  const state: SolverState = { g: new Float64Array(size), s: [], y: [] };
  let f = evaluate(data, labels, invN, options.l2, x, state.g);
  if (maxAbs(state.g) < tolerance) return { x, iterations: 0, converged: true };
  const trial = new Float64Array(size);
  let gTrial: Float64Array = new Float64Array(size);
  for (let iteration = 1; iteration <= options.maxIterations; iteration++) {
    let d = direction(state);
    let gd = dot(state.g, d);
    if (!(gd < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      state.s = [];
      state.y = [];
      d = Float64Array.from(state.g, (v) => -v);
      gd = dot(state.g, d);
    }
    let step = state.s.length === 0 ? Math.min(1, 1 / Math.sqrt(-gd)) : 1;
    let fTrial = Infinity;
    for (let tries = 0; ; tries++) {
      for (let j = 0; j < size; j++) trial[j] = x[j]! + step * d[j]!;
      fTrial = evaluate(data, labels, invN, options.l2, trial, gTrial);
      if (fTrial <= f + 1e-4 * step * gd) break;
      if (tries >= 30) return { x, iterations: iteration - 1, converged: false };
      step /= 2;
    }
    const s = new Float64Array(size);
    const y = new Float64Array(size);
    for (let j = 0; j < size; j++) {
      s[j] = trial[j]! - x[j]!;
      y[j] = gTrial[j]! - state.g[j]!;
    }
    if (dot(s, y) > 1e-12) {
      state.s.push(s);
      state.y.push(y);
      if (state.s.length > memory) {
        state.s.shift();
        state.y.shift();
      }
    }
    const improvement = f - fTrial;
    x = Float64Array.from(trial);
    [state.g, gTrial] = [gTrial, state.g];
    f = fTrial;
    if (improvement <= tolerance * Math.max(1, Math.abs(f)) || maxAbs(state.g) < tolerance) return { x, iterations: iteration, converged: true };
  }
  return { x, iterations: options.maxIterations, converged: false };
}

/** A fitted model's weights spread over the whole feature space, for fast scoring. */
export function denseWeights(fit: Pick<LogisticFit, 'indices' | 'values'>, dimension: number): Float64Array {
  const w = new Float64Array(dimension);
  fit.indices.forEach((j, i) => (w[j] = fit.values[i]!));
  return w;
}

/** bias + w·x. */
export function logit(bias: number, weights: Float64Array, x: SparseVector): number {
  let z = bias;
  for (let i = 0; i < x.indices.length; i++) z += (weights[x.indices[i]!] ?? 0) * x.values[i]!;
  return z;
}
