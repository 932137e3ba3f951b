import { unitHash } from './hash';

/** Which of `folds` folds each example is held out in. */
export interface FoldAssignment {
  folds: number;
  /** foldOf[i]: the fold (0-based) of example i. */
  foldOf: number[];
}

/**
 * The one fold assignment of the project (training's calibration folds, the offline evaluator's cross-validation,
 * kNN's held-out indexes): examples are ordered by a seeded hash of their key (the request id) and dealt
 * round-robin, so fold sizes differ by at most one and an example keeps its fold whatever the file order.
 */
export function assignFolds(keys: readonly string[], folds: number, seed: number | string): FoldAssignment {
  if (!Number.isInteger(folds) || folds < 2) throw new Error(`cross-validation needs at least 2 folds, got ${folds}`);
  if (keys.length < folds) throw new Error(`cross-validation with ${folds} folds needs at least ${folds} examples, got ${keys.length}`);
  const order = keys.map((key, i) => ({ i, h: unitHash('fold', seed, key) })).sort((a, b) => a.h - b.h || a.i - b.i);
  const foldOf = new Array<number>(keys.length);
  order.forEach(({ i }, position) => (foldOf[i] = position % folds));
  return { folds, foldOf };
}
