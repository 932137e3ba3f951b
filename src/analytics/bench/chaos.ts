import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { RouterClient } from '../../client';
import { FileContentStore } from '../../claimCheck/contentStore';
import { payloadCodecFromEnv } from '../../codec';
import { priceTokens } from '../../domain/cost';
import type { Catalog, ModelSpec } from '../../domain/catalog';
import type { DecisionLog } from '../../domain/results';
import { routeWorkflowId } from '../../domain/workflowIds';
import { seededRandom } from '../../routing/random';
import { freePort, startLocalServer, type LocalServer } from '../../servers/localServer';
import { DecisionLogStore } from '../decisionLogStore';
import { ESCALATE_MARKER, FAKE_USAGE, startCountingProvider, type CountingProvider } from './countingProvider';

/*
 * `model-router bench chaos`: requests through the production worker (its own process) against a fake provider that
 * counts calls, with the worker killed (kill -9) at a random moment in every round, the Temporal server restarted
 * in some rounds and a SIGTERM deploy in others. Then, per request: did it complete once, with one decision-log row,
 * its cost counted once, and was every repeated upstream call recorded as possibly billed?
 */

export interface ChaosOptions {
  trials: number;
  /** Requests in flight in each round (one fault per round). */
  concurrency: number;
  seed: number;
  catalog: Catalog;
}

export type Fault = 'kill' | 'kill+server-restart' | 'sigterm';

export interface ChaosResult {
  trials: number;
  completedOnce: number;
  rowsPerRequest: number;
  costCountedOnce: number;
  upstreamCalls: number;
  repeatedCalls: number;
  repeatedCallsRecorded: number;
  /** What the decision logs recorded as possibly billed; above repeatedCalls when a lost attempt never reached the provider. */
  possiblyBilledCalls: number;
  faults: Record<Fault, number>;
  /** From a kill to the repeat of a call it interrupted: the dead worker noticed (heartbeat timeout) and the call retried. */
  callResumedMs: { median: number; max: number };
  /** From the fault to the round's last result. */
  recoveryMs: { median: number; max: number };
  /**
   * An unrelated request's time to a judged answer (start to its judge call) while another request's decision-log
   * write waits on a locked file, against the same with the file free: the lock must not reach other requests.
   */
  lockedDecisionLog: { freeMs: number; lockedMs: number; delayMs: number };
}

const WORKER_READY = 'model-router worker polling';
const TASK_QUEUE = 'chaos';

interface WorkerProcess {
  child: ChildProcess;
  exited: Promise<unknown>;
}

/** The production worker (src/worker/main), in its own process so it can die as a crashed host does. */
async function startWorker(env: NodeJS.ProcessEnv): Promise<WorkerProcess> {
  const main = join(__dirname, '..', '..', 'worker', `main${extname(__filename)}`);
  const child = spawn(process.execPath, [...process.execArgv.filter((a) => !a.startsWith('--test')), main], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = once(child, 'exit');
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the worker did not start polling within 60 s:\n${stderr}`)), 60_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes(WORKER_READY)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the worker exited before polling:\n${stderr}`));
    });
  });
  return { child, exited };
}

/** Every kind early (so a short run has each), then three kills to each restart and deploy. */
const FAULT_CYCLE: Fault[] = ['kill', 'kill+server-restart', 'sigterm', 'kill', 'kill'];
const faultOf = (round: number): Fault => FAULT_CYCLE[round % FAULT_CYCLE.length]!;

/** Start a request and wait for its judge call: the model has answered and the gate is at work. */
async function timeToJudge(router: RouterClient, provider: CountingProvider, requestId: string): Promise<number> {
  const started = Date.now();
  await router.startRoute({ requestId, prompt: 'Classify the intent of "where is my parcel"', taskType: 'classification' });
  for (;;) {
    const judged = provider.calls.find((c) => c.key.startsWith(`${requestId}:judge:`));
    if (judged) return judged.at - started;
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function lockedDecisionLogProbe(router: RouterClient, provider: CountingProvider, path: string, seed: number): Promise<ChaosResult['lockedDecisionLog']> {
  provider.fixLatency(200);
  const freeMs = await timeToJudge(router, provider, `lock-${seed}-free`);
  const locker = new Database(path);
  locker.exec('BEGIN EXCLUSIVE');
  try {
    // This request's row write now waits on the lock (in the worker's writer thread)...
    await timeToJudge(router, provider, `lock-${seed}-blocked`);
    await new Promise((r) => setTimeout(r, 1_500));
    // ...while an unrelated one goes through its model call and judge.
    const lockedMs = await timeToJudge(router, provider, `lock-${seed}-unrelated`);
    return { freeMs, lockedMs, delayMs: Math.max(0, lockedMs - freeMs) };
  } finally {
    locker.exec('COMMIT');
    locker.close();
    for (const id of ['free', 'blocked', 'unrelated']) await router.route({ requestId: `lock-${seed}-${id}`, prompt: 'Classify the intent of "where is my parcel"', taskType: 'classification' });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.floor(sorted.length / 2)]!;
}

export async function benchChaos(options: ChaosOptions, progress: (line: string) => void = () => {}): Promise<ChaosResult> {
  const random = seededRandom(options.seed);
  const dir = mkdtempSync(join(tmpdir(), 'router-chaos-'));
  const byProviderModel = new Map<string, ModelSpec>(options.catalog.models.map((m) => [m.providerModel ?? m.id, m]));
  const cheapest = [...options.catalog.models].sort((a, b) => a.tier - b.tier)[0]!;
  const provider: CountingProvider = await startCountingProvider({ minLatencyMs: 200, maxLatencyMs: 1_500, cheapestModel: cheapest.providerModel ?? cheapest.id, seed: options.seed });
  const port = await freePort();
  const serverOptions = { port, dbFilename: join(dir, 'temporal.db'), logFile: join(dir, 'temporal.log') };
  let server: LocalServer = await startLocalServer(serverOptions);
  const contentDir = join(dir, 'content');
  const decisionLogPath = join(dir, 'decisions.sqlite');
  const workerEnv: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: server.address,
    MODEL_ROUTER_TASK_QUEUE: TASK_QUEUE,
    MODEL_ROUTER_PROVIDER: 'openai',
    OPENAI_BASE_URL: provider.baseUrl,
    OPENAI_API_KEY: 'fake-key-for-the-chaos-bench',
    MODEL_ROUTER_JUDGE_MODEL: cheapest.id,
    MODEL_ROUTER_DECISION_LOG: decisionLogPath,
    MODEL_ROUTER_CONTENT_DIR: contentDir,
  };
  const routerFor = (s: LocalServer) => new RouterClient({ client: s.client, taskQueue: TASK_QUEUE, contentStore: new FileContentStore(contentDir, payloadCodecFromEnv()) });
  let router = routerFor(server);
  let worker = await startWorker(workerEnv);
  const results = new Map<string, DecisionLog>();
  const faults: Record<Fault, number> = { kill: 0, 'kill+server-restart': 0, sigterm: 0 };
  let lockedDecisionLog = { freeMs: 0, lockedMs: 0, delayMs: 0 };
  const recovery: number[] = [];
  const resumed: number[] = [];
  try {
    const rounds = Math.ceil(options.trials / options.concurrency);
    for (let round = 0; round < rounds; round++) {
      const size = Math.min(options.concurrency, options.trials - round * options.concurrency);
      const ids = Array.from({ length: size }, (_, i) => `chaos-${options.seed}-${round}-${i}`);
      for (const [i, requestId] of ids.entries()) {
        const prompt = `${i % 2 === 0 ? ESCALATE_MARKER : ''} Round ${round}: classify the intent of "my parcel QS-${1000 + i} is late"`;
        await router.startRoute({ requestId, prompt, taskType: 'classification' });
      }
      // A random moment: before, during or between the model calls and judgements of the round's requests.
      await new Promise((r) => setTimeout(r, random() * 2_500));
      const fault = faultOf(round);
      faults[fault]++;
      const faultAt = Date.now();
      if (fault === 'sigterm') {
        worker.child.kill('SIGTERM');
        await worker.exited;
      } else {
        worker.child.kill('SIGKILL');
        await worker.exited;
        if (fault === 'kill+server-restart') {
          await server.teardown();
          server = await startLocalServer(serverOptions);
          router = routerFor(server);
        }
      }
      worker = await startWorker(workerEnv);
      const logs = await Promise.all(ids.map((id) => server.client.workflow.getHandle(routeWorkflowId('default', id)).result() as Promise<DecisionLog>));
      recovery.push(Date.now() - faultAt);
      if (fault !== 'sigterm') {
        // Calls cut short by the kill: their series was under way before it and called again after.
        const before = new Set(provider.calls.filter((c) => c.at < faultAt).map((c) => c.key));
        const after = new Map<string, number>();
        for (const c of provider.calls) if (c.at >= faultAt && before.has(c.key) && !after.has(c.key)) after.set(c.key, c.at - faultAt);
        resumed.push(...after.values());
      }
      for (const log of logs) results.set(log.requestId, log);
      progress(`round ${round + 1}/${rounds}: ${fault}, ${size} requests completed in ${((Date.now() - faultAt) / 1000).toFixed(1)} s after the fault`);
    }
    lockedDecisionLog = await lockedDecisionLogProbe(router, provider, decisionLogPath, options.seed);
  } finally {
    worker.child.kill('SIGKILL');
    await worker.exited;
  }

  const store = await DecisionLogStore.open(decisionLogPath);
  const tally = { completedOnce: 0, rows: 0, costCountedOnce: 0, upstreamCalls: 0, repeatedCalls: 0, repeatedCallsRecorded: 0, possiblyBilledCalls: 0 };
  try {
    for (const [requestId, log] of results) {
      const description = await server.client.workflow.getHandle(routeWorkflowId('default', requestId)).describe();
      const row = await store.get(requestId);
      const rows = row ? 1 : 0;
      tally.rows += rows;
      if (description.status.name === 'COMPLETED' && rows === 1) tally.completedOnce++;
      const calls = provider.calls.filter((c) => c.key.startsWith(`${requestId}:`));
      const series = new Map(calls.map((c) => [c.key, c.model]));
      // Each attempt series answered once as far as the router knows: its price, counted once, is the request's cost.
      const expectedUsd = [...series.values()].reduce((sum, model) => sum + priceTokens(byProviderModel.get(model)!, FAKE_USAGE.prompt_tokens, FAKE_USAGE.completion_tokens), 0);
      if (row && Math.abs(row.costUsd - expectedUsd) <= 1e-12 && Math.abs(log.costUsd - expectedUsd) <= 1e-12) tally.costCountedOnce++;
      const repeated = calls.length - series.size;
      tally.upstreamCalls += calls.length;
      tally.repeatedCalls += repeated;
      tally.repeatedCallsRecorded += Math.min(repeated, row?.possiblyBilledCalls ?? 0);
      tally.possiblyBilledCalls += row?.possiblyBilledCalls ?? 0;
    }
  } finally {
    await store.close();
    await server.teardown();
    await provider.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    trials: results.size,
    completedOnce: tally.completedOnce,
    rowsPerRequest: results.size === 0 ? 0 : tally.rows / results.size,
    costCountedOnce: tally.costCountedOnce,
    upstreamCalls: tally.upstreamCalls,
    repeatedCalls: tally.repeatedCalls,
    repeatedCallsRecorded: tally.repeatedCallsRecorded,
    possiblyBilledCalls: tally.possiblyBilledCalls,
    faults,
    callResumedMs: { median: median(resumed), max: Math.max(0, ...resumed) },
    recoveryMs: { median: median(recovery), max: Math.max(0, ...recovery) },
    lockedDecisionLog,
  };
}
