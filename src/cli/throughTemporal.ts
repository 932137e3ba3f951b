import { join } from 'node:path';
import type { EvalRow, EvalDataset } from '../analytics/offline/dataset';
import { summarizeRun, type RunSummary } from '../analytics/offline/metrics';
import { simPlan, type GateSimulation, type SimulatedRequest } from '../analytics/offline/simulate';
import { SimulatedJudge } from './simulatedJudge';
import { RouterClient } from '../client';
import type { RoutingPolicy } from '../domain/policy';
import type { DecisionLog } from '../domain/results';
import { QualityGate } from '../evaluators/gate';
import { ReplayProvider } from '../providers/replay';
import { PROJECT_ROOT } from '../servers/binaries';
import { startLocalServer } from '../servers/localServer';
import { workflowCode } from '../worker/bundle';
import { createRouterWorker } from '../worker/createWorker';
import { installCliRuntime } from './runtime';

export interface ThroughTemporalOptions {
  dataPaths: readonly string[];
  policy: RoutingPolicy;
  gate: GateSimulation;
  /** Workflows in flight at once. */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

/** The workflow's decision log, in the offline evaluator's terms (ground truth from the recorded outcomes). */
function asSimulated(row: EvalRow, log: DecisionLog, threshold: number): SimulatedRequest {
  const attempts = log.attempts.map((a) => {
    const quality = row.outcomes[a.model]!.quality;
    const truePass = quality >= threshold;
    return { model: a.model, cause: a.cause, costUsd: a.costUsd, quality, truePass, ...(a.verdict ? { verdict: a.verdict } : {}), flipped: a.verdict ? a.verdict.passed !== truePass : false };
  });
  return {
    attempts,
    finalModel: log.finalModel,
    quality: row.outcomes[log.finalModel]!.quality,
    costUsd: log.costUsd,
    judgeCostUsd: log.attempts.reduce((s, a) => s + (a.verdict?.costUsd ?? 0), 0),
    escalated: log.wasEscalated,
  };
}

/**
 * `eval --through-temporal`: every row through a real routeRequest workflow on an embedded dev server, answered by
 * the replay provider and graded by the same simulated judge as the fast path. Without the gate, the policy's
 * threshold is 0 and the judge is free, so every first answer is kept, as in the fast path's `--no-gate`.
 */
export async function runThroughTemporal(dataset: EvalDataset, options: ThroughTemporalOptions): Promise<{ summary: RunSummary; logs: DecisionLog[] }> {
  const threshold = options.policy.gate.threshold;
  const gate: GateSimulation = options.gate.enabled ? options.gate : { ...options.gate, judgeError: 0, judgeCostUsd: 0 };
  const policy: RoutingPolicy = options.gate.enabled ? options.policy : { ...options.policy, gate: { threshold: 0 } };
  installCliRuntime();
  const server = await startLocalServer({ logFile: join(PROJECT_ROOT, '.model-router', 'temporal-server.log') });
  try {
    const worker = await createRouterWorker({
      connection: server.nativeConnection,
      taskQueue: 'model-router-eval',
      workflows: workflowCode(),
      deps: {
        catalog: { models: [...dataset.catalog] },
        policies: new Map([[policy.id, policy]]),
        providers: { replay: ReplayProvider.fromFiles([...options.dataPaths]) },
        gate: new QualityGate({ validators: [], scorer: new SimulatedJudge(dataset.rows, threshold, gate) }),
      },
    });
    const router = new RouterClient({ client: server.client, taskQueue: 'model-router-eval' });
    const logs: DecisionLog[] = new Array(dataset.rows.length);
    let next = 0;
    let done = 0;
    const lane = async () => {
      for (let i = next++; i < dataset.rows.length; i = next++) {
        logs[i] = await router.route({ ...dataset.rows[i]!.request, policyId: policy.id });
        options.onProgress?.(++done, dataset.rows.length);
      }
    };
    await worker.runUntil(Promise.all(Array.from({ length: options.concurrency ?? 32 }, lane)));
    const plan = simPlan(dataset.catalog, { threshold, maxEscalations: policy.maxEscalations });
    const sims = dataset.rows.map((row, i) => asSimulated(row, logs[i]!, threshold));
    return { summary: summarizeRun(dataset.rows, sims, plan), logs };
  } finally {
    await server.teardown();
  }
}
