import type { OperatingPoint } from '../../domain/classifierArtefact';
import type { EvalRow } from './dataset';
import { runStrategy, type RunOptions } from './evaluate';
import type { RunSummary } from './metrics';
import { DEFAULT_JUDGE_COST_RATIO, type GateSimulation } from './simulate';
import { LAMBDA_GRID } from './strategies';
import type { RouterFamily } from './baselines';

export interface OperatingPointSearch {
  operatingPoint: OperatingPoint;
  summary: RunSummary;
  /** False when no λ reached the target: the point is λ = 0 (always the best model). */
  reached: boolean;
}

/**
 * The λ search of `train --target-retention`: over LAMBDA_GRID on held-out choices, the largest saving whose
 * simulated retention reaches the target.
 */
export function searchOperatingPoint(
  rows: readonly EvalRow[],
  heldOut: RouterFamily,
  targetRetention: number,
  run: RunOptions & { gate: GateSimulation },
  escalation: 'ladder' | 'cascade' = 'ladder',
): OperatingPointSearch {
  const points = LAMBDA_GRID.map((lambda) => ({ lambda, summary: runStrategy(rows, heldOut(lambda), { ...run, onProgress: undefined }).summary }));
  const reaching = points.filter((p) => p.summary.qualityRetention >= targetRetention);
  const chosen = reaching.length > 0 ? reaching.reduce((a, b) => (b.summary.costSavings > a.summary.costSavings ? b : a)) : points[0]!;
  return {
    reached: reaching.length > 0,
    summary: chosen.summary,
    operatingPoint: {
      lambda: chosen.lambda,
      targetRetention,
      achievedRetention: chosen.summary.qualityRetention,
      costSavings: chosen.summary.costSavings,
      gateError: run.gate.judgeError,
      judgeCostRatio: run.gate.judgeCostRatio ?? DEFAULT_JUDGE_COST_RATIO,
      noGate: !run.gate.enabled,
      ...(escalation === 'cascade' ? { escalation } : {}),
    },
  };
}
