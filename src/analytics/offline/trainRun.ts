import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cascadeProblem, definitionNamed } from '../../routing/strategies/registry';
import { formatTable, percent } from '../table';
import { loadEvalDataset } from './dataset';
import { DEFAULT_THRESHOLD } from './evaluate';
import { searchOperatingPoint } from './operatingPoint';
import type { GateSimulation } from './simulate';
import { fitHeldOut, heldOutFamily } from './strategies';

export interface TrainCommand {
  /** A strategy with a `fit` (classifier, knn). */
  strategy: string;
  data: string[];
  /** models.json-format price table; default: the one beside (or above) the first data file. */
  prices?: string;
  targetRetention?: number;
  gate: GateSimulation;
  maxEscalations: number;
  /** The escalation the operating point is searched for (default the ladder). */
  escalation?: 'ladder' | 'cascade';
  folds: number;
  seed: number;
  k: number;
  /** Clock for the artefact's createdAt (the core reads none). */
  now: Date;
  onProgress?: (done: number, total: number) => void;
}

export interface TrainResult {
  /** The artefact to write: what a policy of the strategy loads by path. */
  artefact: object;
  /** What training measured, for the terminal. */
  lines: string[];
}

/**
 * `model-router train`: fits a learned strategy on recorded outcomes and, given a target retention, picks λ on
 * held-out (out-of-fold) choices: the largest saving whose simulated retention reaches the target.
 */
export function trainStrategy(cmd: TrainCommand): TrainResult {
  const definition = definitionNamed(cmd.strategy);
  if (!definition.fit) throw new Error(`strategy "${cmd.strategy}" is not trained on labelled outcomes`);
  const cascadeIssue = cmd.escalation === 'cascade' ? cascadeProblem(cmd.strategy) : undefined;
  if (cascadeIssue) throw new Error(`--escalation: ${cascadeIssue}`);
  const dataset = loadEvalDataset(cmd.data, cmd.prices ? { prices: cmd.prices } : {});
  const started = Date.now();
  const fitted = fitHeldOut(cmd.strategy, dataset, {
    ...cmd,
    createdAt: cmd.now.toISOString(),
    trainingData: cmd.data.map((path) => {
      const bytes = readFileSync(path);
      return { path, sha256: createHash('sha256').update(bytes).digest('hex'), rows: bytes.toString('utf8').split('\n').filter((l) => l.trim()).length };
    }),
  });
  const lines = [`trained ${cmd.strategy} on ${dataset.rows.length} requests × ${dataset.catalog.length} models in ${((Date.now() - started) / 1000).toFixed(1)} s`];
  lines.push(...dataset.notes.map((note) => `note: ${note}`));
  if (fitted.report) lines.push(formatTable(fitted.report.header, fitted.report.rows));
  if (cmd.targetRetention !== undefined) {
    const run = { catalog: dataset.catalog, threshold: DEFAULT_THRESHOLD, maxEscalations: cmd.maxEscalations, gate: cmd.gate };
    const cascade = cmd.escalation === 'cascade';
    const search = searchOperatingPoint(dataset.rows, heldOutFamily(fitted, dataset.rows, { cascade }), cmd.targetRetention, run, cmd.escalation);
    if (!search.reached) lines.push(`warning: no λ reaches retention ${percent(cmd.targetRetention)} on held-out data; using λ=0 (always the best model)`);
    fitted.artefact.operatingPoint = search.operatingPoint;
    lines.push(
      `operating point (${cmd.folds}-fold held-out${cascade ? ', cascade' : ''}): λ=${search.operatingPoint.lambda}, retention ${percent(search.summary.qualityRetention)}, ` +
        `savings ${percent(search.summary.costSavings)}, escalation ${percent(search.summary.escalationRate)}`,
    );
  }
  return { artefact: fitted.artefact, lines };
}
