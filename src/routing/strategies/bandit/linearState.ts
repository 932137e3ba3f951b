import { CONTEXT_DIMENSION } from './dimension';
import { emptyLinearArm, updateLinear } from './linear';
import type { BanditState } from './types';

/** Folds an observation into the arm's linear model, creating it on first use. */
export function linearUpdateFor(state: BanditState, arm: string, x: readonly number[], y: { q: number; c: number; l: number }, correction = false): void {
  const model = (state.linear[arm] ??= emptyLinearArm(CONTEXT_DIMENSION, state.step));
  updateLinear(model, x, y, state.settings.forgetting, state.step, correction);
}
