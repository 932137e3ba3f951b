import { join } from 'node:path';
import { RouterClient } from '../../client';
import type { DecisionLog } from '../../domain/results';
import { QualityGate } from '../../evaluators/gate';
import { SimulatedJudge, type JudgeRecords } from '../../evaluators/simulatedJudge';
import { ReplayProvider } from '../../providers/replay';
import { escalationPlan } from '../../routing/plan';
import type { RoutingPolicy } from '../../routing/strategies/registry';
import { PROJECT_ROOT } from '../../servers/binaries';
import { startLocalServer } from '../../servers/localServer';
import { workflowCode } from '../../worker/bundle';
import { createRouterWorker } from '../../worker/createWorker';
import { installQuietRuntime } from '../../worker/runtime';
import type { EvalDataset, EvalRow } from './dataset';
import { summarizeRun, type RunSummary } from './metrics';
import { judgeCostFor, judgeErs, type GateSimulation, type SimulatedRequest } from './simulate';

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
    const flipped = a.verdict ? a.verdict.passed !== truePass : false;
    return { model: a.model, cause: a.cause, costUsd: a.costUsd, quality, truePass, ...(a.verdict ? { verdict: a.verdict } : {}), flipped, latencyMs: a.latencyMs };
  });
  return {
    attempts,
    finalModel: log.finalModel,
    quality: row.outcomes[log.finalModel]!.quality,
    costUsd: log.costUsd,
    judgeCostUsd: log.attempts.reduce((s, a) => s + (a.verdict?.costUsd ?? 0), 0),
    escalated: log.wasEscalated,
    // The replay provider's reported latencies, in sequence (the offline latency model is not applied here).
    latencyMs: log.attempts.reduce((s, a) => s + a.latencyMs, 0),
    raced: log.attempts.some((a) => a.cause === 'speculative'),
  };
}

/** The fast path's judge as lookups: a row's recorded pass/fail for a model, flipped where its seeded hash errs. */
function recordedVerdicts(rows: readonly EvalRow[], threshold: number, gate: GateSimulation): JudgeRecords {
  const byRequest = new Map(rows.map((r) => [r.request.requestId, r]));
  return (requestId, model) => {
    const row = byRequest.get(requestId);
    const outcome = row?.outcomes[model];
    if (!row || !outcome) return undefined;
    return { quality: outcome.quality, passes: outcome.quality >= threshold, errs: judgeErs(gate.seed, row.rowId, model, gate.judgeError), costUsd: judgeCostFor(row, gate) };
  };
}

/**
 * `eval --through-temporal`: every row through a real routeRequest workflow on an embedded dev server, answered by
 * the replay provider and graded by the same simulated judge as the fast path. Without the gate, the policy's
 * threshold is 0 and the judge is free, so every first answer is kept, as in the fast path's `--no-gate`.
 */
export async function runThroughTemporal(dataset: EvalDataset, options: ThroughTemporalOptions): Promise<{ summary: RunSummary; logs: DecisionLog[]; workflowsPerSec: number }> {
  const threshold = options.policy.gate.threshold;
  const gate: GateSimulation = options.gate.enabled ? options.gate : { ...options.gate, judgeError: 0, judgeCostUsd: 0 };
  const policy: RoutingPolicy = options.gate.enabled ? options.policy : { ...options.policy, gate: { threshold: 0 } };
  installQuietRuntime();
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
        gate: new QualityGate({ validators: [], scorer: new SimulatedJudge(recordedVerdicts(dataset.rows, threshold, gate)) }),
      },
    });
    const router = new RouterClient({ client: server.client, taskQueue: 'model-router-eval' });
    const logs: DecisionLog[] = new Array(dataset.rows.length);
    let next = 0;
    let done = 0;
    const lane = async () => {
      for (let i = next++; i < dataset.rows.length; i = next++) {
        // Whole workflows (row and outcome written): they are what workflows/s counts, and a learner learns from.
        logs[i] = await router.route({ ...dataset.rows[i]!.request, policyId: policy.id }, { earlyReturn: false });
        options.onProgress?.(++done, dataset.rows.length);
      }
    };
    const started = performance.now();
    await worker.runUntil(Promise.all(Array.from({ length: options.concurrency ?? 32 }, lane)));
    const workflowsPerSec = dataset.rows.length / ((performance.now() - started) / 1000);
    const plan = escalationPlan(dataset.catalog, { gateThreshold: threshold, maxEscalations: policy.maxEscalations });
    const sims = dataset.rows.map((row, i) => asSimulated(row, logs[i]!, threshold));
    return { summary: summarizeRun(dataset.rows, sims, plan), logs, workflowsPerSec };
  } finally {
    await server.teardown();
  }
}
