import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { percentile } from '../percentile';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { temporal } from '@temporalio/proto';
import { RouterClient } from '../../client';
import type { Catalog } from '../../domain/catalog';
import type { RouteRequestInput } from '../../domain/request';
import type { RoutingPolicy } from '../../routing/strategies/registry';
import { ScorerByOrigin } from '../../evaluators/byOrigin';
import { QualityGate, defaultValidators } from '../../evaluators/gate';
import type { Completion, CompletionRequest, ModelProvider } from '../../providers/types';
import { startLocalServer, type LocalServer } from '../../servers/localServer';
import { workflowCode } from '../../worker/bundle';
import { createRouterWorker } from '../../worker/createWorker';
import { DecisionLogWriter } from '../decisionLogWriter';

/*
 * `model-router bench overhead`: what the router adds on top of Temporal's own floor. On one embedded dev server
 * and one worker: a workflow of one no-op activity (the floor), of four, the router's clean path and the router
 * with one escalation, interleaved, with an instant provider so that only orchestration is measured. Latency from
 * a sequential run, throughput at each concurrency, history bytes and server CPU per request; every figure is also
 * given as a ratio to the floor measured in the same run.
 */

export type Scenario = 'floor1' | 'floor4' | 'router' | 'routerEscalated';
export const SCENARIOS: Scenario[] = ['floor1', 'floor4', 'router', 'routerEscalated'];

export interface ScenarioFigures {
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  historyBytes: number;
  /** Server CPU (user + system) per request, in ms, over the concurrent runs. */
  serverCpuMsPerRequest: number;
  rps: Record<string, number>;
}

/** Where a bench ran: the figures are ratios for a reason, but a reader still wants to know. */
export interface BenchMachine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
}

export function benchMachine(): BenchMachine {
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model.trim() ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.versions.node };
}

export interface OverheadResult {
  machine: BenchMachine;
  requests: number;
  concurrency: number[];
  tunedServer: boolean;
  earlyReturn: boolean;
  scenarios: Record<Scenario, ScenarioFigures>;
  /** Each scenario's p50, rps and history bytes ÷ the floor's. */
  ratiosToFloor: Record<Scenario, { p50: number; rps: Record<string, number>; historyBytes: number }>;
}

const ESCALATE = '[escalate]';

/**
 * An instant provider, labelled simulated: the cheapest tier fails the gate on prompts holding ESCALATE (recorded
 * quality 0), every other answer passes. Nothing is called and nothing waits.
 */
export class InstantProvider implements ModelProvider {
  readonly name = 'instant';
  readonly bills = false;
  async complete(req: CompletionRequest): Promise<Completion> {
    const fails = req.model.tier === 1 && req.prompt.includes(ESCALATE);
    return { text: `[simulated instant] answer from ${req.model.id}`, inputTokens: 100, outputTokens: 50, latencyMs: 0, origin: 'simulated', recordedQuality: fails ? 0 : 1 };
  }
}

/** CPU ticks (user + system) a process has used, from /proc; 0 where /proc is not there. */
export function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks at the usual 100 Hz
  } catch {
    return 0;
  }
}

export interface OverheadOptions {
  requests: number;
  concurrency: number[];
  catalog: Catalog;
  policy: RoutingPolicy;
  tuned: boolean;
  /** RouterClient.route()'s default; false measures the router waiting for the row (`{ earlyReturn: false }`). */
  earlyReturn?: boolean;
}

export async function benchOverhead(options: OverheadOptions, progress: (line: string) => void = () => {}): Promise<OverheadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'router-overhead-'));
  const server: LocalServer = await startLocalServer({ tuned: options.tuned, logFile: join(dir, 'temporal.log') });
  const catalog: Catalog = { models: options.catalog.models.map((m) => ({ ...m, provider: 'instant' })) };
  // The policy routes everything to the cheapest tier first, so "[escalate]" prompts climb exactly one rung.
  const policy = { ...options.policy, id: 'bench', maxEscalations: 1 };
  const writer = new DecisionLogWriter(join(dir, 'decisions.sqlite'));
  const taskQueue = 'bench-overhead';
  const worker = await createRouterWorker({
    connection: server.nativeConnection,
    taskQueue,
    workflows: workflowCode(),
    deps: { catalog, policies: new Map([[policy.id, policy]]), providers: { instant: new InstantProvider() }, gate: new QualityGate({ validators: defaultValidators(), scorer: new ScorerByOrigin() }), decisionLog: writer },
    extraActivities: { async benchNoop() {} },
    maxConcurrentActivityTaskExecutions: 200,
  });
  const router = new RouterClient({ client: server.client, taskQueue });
  let n = 0;
  const earlyReturn = options.earlyReturn ?? true;
  // Latency is the caller's: to the workflow's result for the floors, to the (early) answer for the router.
  // `running` names a run that answered early and is still writing its row.
  const runOne = async (scenario: Scenario): Promise<{ ms: number; workflowId: string; running?: string }> => {
    const id = `${scenario}-${n++}`;
    const started = performance.now();
    if (scenario === 'floor1' || scenario === 'floor4') {
      await server.client.workflow.execute('benchFloor', { args: [scenario === 'floor1' ? 1 : 4], taskQueue, workflowId: `floor-${id}` });
      return { ms: performance.now() - started, workflowId: `floor-${id}` };
    }
    const request: RouteRequestInput = { requestId: id, prompt: `${scenario === 'routerEscalated' ? ESCALATE : ''} Classify the intent of "where is my parcel"`, taskType: 'classification', policyId: policy.id };
    const log = await router.route(request, { earlyReturn });
    const ms = performance.now() - started;
    if (scenario === 'routerEscalated' !== log.wasEscalated) throw new Error(`bench ${scenario}: request ${id} escalated=${log.wasEscalated}`);
    return { ms, workflowId: log.workflowId, ...(earlyReturn && { running: log.workflowId }) };
  };
  // Every phase waits for the runs still writing their rows before it stops; runs that have ended cost no read.
  const toTheEnd = (running: readonly (string | undefined)[]) =>
    Promise.all(running.flatMap((id) => (id ? [server.client.workflow.getHandle(id).result()] : [])));

  const latencies = Object.fromEntries(SCENARIOS.map((s) => [s, [] as number[]])) as Record<Scenario, number[]>;
  const lastWorkflow = {} as Record<Scenario, string>;
  const rps = Object.fromEntries(SCENARIOS.map((s) => [s, {} as Record<string, number>])) as Record<Scenario, Record<string, number>>;
  const cpu = Object.fromEntries(SCENARIOS.map((s) => [s, { ms: 0, requests: 0 }])) as Record<Scenario, { ms: number; requests: number }>;
  try {
    await worker.runUntil(async () => {
      for (const s of SCENARIOS) await toTheEnd([(await runOne(s)).running]); // warm-up: caches, connections, the first workflow task of each type
      // Interleaved, so drift in the machine's load falls on every scenario alike.
      for (let i = 0; i < options.requests; i++) {
        for (const s of SCENARIOS) {
          const { ms, workflowId, running } = await runOne(s);
          await toTheEnd([running]); // untimed: so that no run overlaps the next
          latencies[s].push(ms);
          lastWorkflow[s] = workflowId;
        }
      }
      progress(`sequential: ${options.requests} requests per scenario`);
      for (const c of options.concurrency) {
        for (const s of SCENARIOS) {
          const total = Math.max(options.requests, c * 4);
          let next = 0;
          const cpuBefore = cpuMs(server.pid);
          const started = performance.now();
          const running: (string | undefined)[] = [];
          await Promise.all(Array.from({ length: c }, async () => {
            while (next++ < total) running.push((await runOne(s)).running);
          }));
          // Throughput is of whole runs: the clock stops when the last row is written, not at the last answer.
          await toTheEnd(running);
          rps[s][String(c)] = total / ((performance.now() - started) / 1000);
          cpu[s].ms += cpuMs(server.pid) - cpuBefore;
          cpu[s].requests += total;
        }
        progress(`concurrency ${c}: ${SCENARIOS.map((s) => `${s} ${rps[s][String(c)]!.toFixed(1)}/s`).join(', ')}`);
      }
    });
    const figures = {} as Record<Scenario, ScenarioFigures>;
    for (const s of SCENARIOS) {
      const sorted = [...latencies[s]].sort((a, b) => a - b);
      const history = await server.client.workflow.getHandle(lastWorkflow[s]).fetchHistory();
      figures[s] = {
        p50Ms: percentile(sorted, 50),
        p95Ms: percentile(sorted, 95),
        p99Ms: percentile(sorted, 99),
        historyBytes: temporal.api.history.v1.History.encode(history).finish().length,
        serverCpuMsPerRequest: cpu[s].requests > 0 ? cpu[s].ms / cpu[s].requests : 0,
        rps: rps[s],
      };
    }
    const floor = figures.floor1;
    const ratiosToFloor = Object.fromEntries(
      SCENARIOS.map((s) => [
        s,
        {
          p50: figures[s].p50Ms / floor.p50Ms,
          rps: Object.fromEntries(Object.entries(figures[s].rps).map(([c, v]) => [c, v / floor.rps[c]!])),
          historyBytes: figures[s].historyBytes / floor.historyBytes,
        },
      ]),
    ) as OverheadResult['ratiosToFloor'];
    return { machine: benchMachine(), requests: options.requests, concurrency: options.concurrency, tunedServer: options.tuned, earlyReturn, scenarios: figures, ratiosToFloor };
  } finally {
    await writer.close();
    await server.teardown();
    rmSync(dir, { recursive: true, force: true });
  }
}
