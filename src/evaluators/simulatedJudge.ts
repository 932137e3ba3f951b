import type { RouteRequest } from '../domain/request';
import type { ModelResult } from '../domain/results';
import type { Evaluation, Evaluator } from './types';

/** What the simulated judge knows of an answer: its recorded quality and truth, whether it errs on it, its price. */
export type JudgeRecords = (requestId: string, model: string) => { quality: number; passes: boolean; errs: boolean; costUsd: number } | undefined;

/**
 * The offline evaluator's judge, as a gate evaluator for real workflows (`eval --through-temporal`): it knows the
 * recorded quality of every answer, errs on exactly the answers the fast path's judge errs on and costs the same.
 * Labelled "simulated-judge" in every verdict.
 */
export class SimulatedJudge implements Evaluator {
  readonly name = 'simulated-judge';

  constructor(private readonly records: JudgeRecords) {}

  async evaluate(request: RouteRequest, result: ModelResult): Promise<Evaluation> {
    const record = this.records(request.requestId, result.model);
    if (!record) throw new Error(`simulated judge: no recorded outcome for request "${request.requestId}" and model "${result.model}"`);
    const passes = record.errs ? !record.passes : record.passes;
    return {
      score: passes ? 1 : 0,
      reasons: [`simulated judge: recorded quality ${record.quality}${record.errs ? ', verdict flipped (judge error)' : ''}`],
      costUsd: record.costUsd,
    };
  }
}
