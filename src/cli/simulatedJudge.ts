import type { RouteRequest } from '../domain/request';
import type { ModelResult } from '../domain/results';
import type { Evaluation, Evaluator } from '../evaluators/types';
import type { EvalRow } from '../analytics/offline/dataset';
import { judgeCostFor, judgeErs, type GateSimulation } from '../analytics/offline/simulate';

/**
 * The offline evaluator's judge, as a gate evaluator for real workflows (`eval --through-temporal`): it knows the
 * recorded quality of every row, errs on exactly the answers the fast path's judge errs on (same seeded hash) and
 * costs the same. Labelled "simulated-judge" in every verdict.
 */
export class SimulatedJudge implements Evaluator {
  readonly name = 'simulated-judge';
  private readonly rows: ReadonlyMap<string, EvalRow>;

  constructor(
    rows: readonly EvalRow[],
    private readonly threshold: number,
    private readonly gate: GateSimulation,
  ) {
    this.rows = new Map(rows.map((r) => [r.request.requestId, r]));
  }

  async evaluate(request: RouteRequest, result: ModelResult): Promise<Evaluation> {
    const row = this.rows.get(request.requestId);
    const outcome = row?.outcomes[result.model];
    if (!row || !outcome) throw new Error(`simulated judge: no recorded outcome for request "${request.requestId}" and model "${result.model}"`);
    const truePass = outcome.quality >= this.threshold;
    const errs = judgeErs(this.gate.seed, row.rowId, result.model, this.gate.judgeError);
    const passes = errs ? !truePass : truePass;
    return {
      score: passes ? 1 : 0,
      reasons: [`simulated judge: recorded quality ${outcome.quality}${errs ? ', verdict flipped (judge error)' : ''}`],
      costUsd: judgeCostFor(row, this.gate),
    };
  }
}
