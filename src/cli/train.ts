import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { OperatingPoint } from '../domain/classifierArtefact';
import { loadEvalDataset } from '../analytics/offline/dataset';
import { runStrategy, DEFAULT_THRESHOLD } from '../analytics/offline/evaluate';
import { classifierCatalog, outOfFoldFamily, trainingExamples } from '../analytics/offline/learned';
import { DEFAULT_JUDGE_COST_RATIO, type GateSimulation } from '../analytics/offline/simulate';
import { trainClassifier } from '../routing/classifier/train';
import { formatTable, percent } from '../analytics/table';

/** λ values tried for curves and operating points: 0 (always the best model), then geometric from 0.005 to 20. */
export const LAMBDA_GRID = [0, ...Array.from({ length: 37 }, (_, i) => Number((0.005 * 1.26 ** i).toPrecision(3)))];

export interface TrainCommand {
  data: string[];
  /** models.json-format price table; default: the one beside (or above) the first data file. */
  prices?: string;
  out: string;
  targetRetention?: number;
  gate: GateSimulation;
  maxEscalations: number;
  folds: number;
  seed: number;
}

/**
 * `model-router train`: fits the calibrated classifier on recorded outcomes and, given a target retention, picks λ
 * on held-out (out-of-fold) predictions: the largest saving whose simulated retention reaches the target.
 */
export function runTrain(cmd: TrainCommand): void {
  const dataset = loadEvalDataset(cmd.data, cmd.prices ? { prices: cmd.prices } : {});
  const started = Date.now();
  const { artefact, outOfFold } = trainClassifier(trainingExamples(dataset.rows, DEFAULT_THRESHOLD), {
    catalog: classifierCatalog(dataset.catalog),
    createdAt: new Date().toISOString(),
    folds: cmd.folds,
    seed: cmd.seed,
    passThreshold: DEFAULT_THRESHOLD,
    policyVersion: `classifier-${new Date().toISOString().slice(0, 10)}`,
    trainingData: cmd.data.map((path) => {
      const bytes = readFileSync(path);
      return { path, sha256: createHash('sha256').update(bytes).digest('hex'), rows: bytes.toString('utf8').split('\n').filter((l) => l.trim()).length };
    }),
  });
  console.error(`trained on ${dataset.rows.length} requests × ${dataset.catalog.length} models in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  for (const note of dataset.notes) console.error(`note: ${note}`);
  console.error(
    formatTable(
      ['model', 'n', 'pass rate', 'AUC', 'ECE raw', 'ECE calibrated', 'log loss'],
      Object.entries(artefact.trainingMetrics).map(([id, m]) => [id, m.n, m.basePassRate.toFixed(3), m.auc.toFixed(3), m.eceBefore.toFixed(3), m.eceAfter.toFixed(3), m.logLoss.toFixed(3)]),
    ),
  );

  if (cmd.targetRetention !== undefined) {
    const family = outOfFoldFamily(dataset.rows, outOfFold, dataset.catalog, cmd.gate.judgeCostRatio ?? DEFAULT_JUDGE_COST_RATIO);
    const run = { catalog: dataset.catalog, threshold: DEFAULT_THRESHOLD, maxEscalations: cmd.maxEscalations, gate: cmd.gate };
    const points = LAMBDA_GRID.map((lambda) => ({ lambda, summary: runStrategy(dataset.rows, family(lambda), run).summary }));
    const reaching = points.filter((p) => p.summary.qualityRetention >= cmd.targetRetention!);
    const chosen = reaching.length > 0 ? reaching.reduce((a, b) => (b.summary.costSavings > a.summary.costSavings ? b : a)) : points[0]!;
    if (reaching.length === 0) console.error(`warning: no λ reaches retention ${percent(cmd.targetRetention)} on held-out data; using λ=0 (always the best model)`);
    const operatingPoint: OperatingPoint = {
      lambda: chosen.lambda,
      targetRetention: cmd.targetRetention,
      achievedRetention: chosen.summary.qualityRetention,
      costSavings: chosen.summary.costSavings,
      gateError: cmd.gate.judgeError,
      judgeCostRatio: cmd.gate.judgeCostRatio ?? DEFAULT_JUDGE_COST_RATIO,
      noGate: !cmd.gate.enabled,
    };
    artefact.operatingPoint = operatingPoint;
    console.error(
      `operating point (${cmd.folds}-fold held-out): λ=${chosen.lambda}, retention ${percent(chosen.summary.qualityRetention)}, ` +
        `savings ${percent(chosen.summary.costSavings)}, escalation ${percent(chosen.summary.escalationRate)}`,
    );
  }
  writeFileSync(cmd.out, `${JSON.stringify(artefact)}\n`);
  console.error(`wrote ${cmd.out}`);
}
