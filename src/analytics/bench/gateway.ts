import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { RouterClient } from '../../client';
import type { Catalog } from '../../domain/catalog';
import type { DecisionLog } from '../../domain/results';
import { routeWorkflowId } from '../../domain/workflowIds';
import { DEMO_REQUESTS } from '../../demo/requests';
import { ScorerByOrigin } from '../../evaluators/byOrigin';
import { QualityGate, defaultValidators } from '../../evaluators/gate';
import { createGateway } from '../../gateway/server';
import { generateApiKey, hashApiKey, parseTenantsFile } from '../../gateway/tenants';
import type { RoutingPolicy } from '../../routing/strategies/registry';
import { startLocalServer } from '../../servers/localServer';
import { workflowCode } from '../../worker/bundle';
import { createRouterWorker } from '../../worker/createWorker';
import { DecisionLogWriter } from '../decisionLogWriter';
import { percentile } from '../percentile';
import { benchMachine, cpuMs, InstantProvider, type BenchMachine } from './overhead';

/*
 * `model-router bench gateway`: what the OpenAI-compatible HTTP front adds to the typed client. One embedded dev
 * server, one worker on an instant (simulated) provider, a gateway on loopback; at each concurrency the same
 * prompts go through RouterClient.route() and through the official `openai` client against the gateway, and
 * through the gateway for a tenant with a budget (its reserve update and settle signal are round trips of their own, so
 * that arm is reported beside the target, not in it). The arms take turns in rounds, so drift in the machine's
 * load falls on each alike. Latency is the caller's, to the answer; the runs' tails (the decision-log row) are
 * waited for between batches, untimed, so no batch overlaps the one before.
 */

export const GATEWAY_ARMS = ['client', 'gateway', 'gatewayBudget'] as const;
export type GatewayArm = (typeof GATEWAY_ARMS)[number];
type GatewayOnlyArm = Exclude<GatewayArm, 'client'>;

/** Issue 11's target: the gateway's p50 at most this many times the typed client's, in the same run. */
export const GATEWAY_P50_TARGET = 1.15;

/** What one arm measured at one concurrency. */
export interface ArmSample {
  /** Each counted request's latency to its answer, ms. */
  latenciesMs: number[];
  /** The arm's batches' wall times added up, ms. */
  elapsedMs: number;
  /** Answers that matched their run's decision log: the same text, from the model that answered. */
  verified: number;
  /** CPU (user + system) over the arm's batches and their runs' tails: this process (worker, gateway, clients) and the dev server. */
  processCpuMs: number;
  serverCpuMs: number;
}

export interface ArmFigures {
  requests: number;
  verified: number;
  rps: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** Where the time goes: CPU per request in this process and in the dev server. */
  processCpuMsPerRequest: number;
  serverCpuMsPerRequest: number;
}

export interface LevelFigures {
  concurrency: number;
  arms: Record<GatewayArm, ArmFigures>;
  /** Each gateway arm's p50 and requests/s ÷ the typed client's at this concurrency. */
  toClient: Record<GatewayOnlyArm, { p50: number; rps: number }>;
  /** The gateway's p50 (without a budget) is within GATEWAY_P50_TARGET × the client's. */
  targetMet: boolean;
}

export interface GatewayBenchResult {
  machine: BenchMachine;
  provider: string;
  requests: number;
  concurrency: number[];
  target: number;
  levels: LevelFigures[];
  /** Met at every concurrency. */
  targetMet: boolean;
  /** The budget tenant's ledger at the end (warm-ups included): every budgeted call reserved, then settled. */
  budget: { reserved: number; settled: number; spentUsd: number };
}

export function armFigures(sample: ArmSample): ArmFigures {
  const requests = sample.latenciesMs.length;
  return {
    requests,
    verified: sample.verified,
    rps: sample.elapsedMs > 0 ? requests / (sample.elapsedMs / 1000) : 0,
    p50Ms: percentile(sample.latenciesMs, 50),
    p95Ms: percentile(sample.latenciesMs, 95),
    p99Ms: percentile(sample.latenciesMs, 99),
    processCpuMsPerRequest: requests > 0 ? sample.processCpuMs / requests : 0,
    serverCpuMsPerRequest: requests > 0 ? sample.serverCpuMs / requests : 0,
  };
}

/** One concurrency's figures from its samples: pure, so a test can check it on numbers of its own. */
export function levelFigures(concurrency: number, samples: Record<GatewayArm, ArmSample>, target = GATEWAY_P50_TARGET): LevelFigures {
  const arms = Object.fromEntries(GATEWAY_ARMS.map((arm) => [arm, armFigures(samples[arm])])) as Record<GatewayArm, ArmFigures>;
  const ratio = (arm: GatewayOnlyArm) => ({ p50: arms[arm].p50Ms / arms.client.p50Ms, rps: arms[arm].rps / arms.client.rps });
  const toClient = { gateway: ratio('gateway'), gatewayBudget: ratio('gatewayBudget') };
  return { concurrency, arms, toClient, targetMet: toClient.gateway.p50 <= target };
}

/** A round is two batches' worth of in-flight requests per arm: long enough to fill the concurrency, short enough to interleave. */
export const roundSize = (concurrency: number) => 2 * concurrency;

export interface GatewayBenchOptions {
  requests: number;
  concurrency: number[];
  catalog: Catalog;
  policy: RoutingPolicy;
}

const TENANT = 'bench';
const BUDGET_TENANT = 'bench.budget';
/** A cap no bench reaches: every reservation is accepted, and each still costs its updates. */
const BUDGET = { dailyUsd: 1_000_000, monthlyUsd: 1_000_000 };
export const PROVIDER = 'instant (simulated): answers at once, no latency; every answer passes the gate';

/** The same requests in every arm: the demo's prompts without a schema or history (the instant provider answers text). */
const PROMPTS = DEMO_REQUESTS.filter((r) => !r.outputSchema && !r.history?.length).map((r) => ({ prompt: r.prompt, taskType: r.taskType, domain: r.domain }));
type Prompt = (typeof PROMPTS)[number];

/** One call's answer, and how to tell it is its run's: checked once the run has ended. */
interface Answered {
  workflowId: string;
  matches(final: DecisionLog): boolean;
}
type Call = (requestId: string, prompt: Prompt) => Promise<Answered>;

export async function benchGateway(options: GatewayBenchOptions, progress: (line: string) => void = () => {}): Promise<GatewayBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'router-gateway-bench-'));
  const server = await startLocalServer({ logFile: join(dir, 'temporal.log') });
  const catalog: Catalog = { models: options.catalog.models.map((m) => ({ ...m, provider: 'instant' })) };
  const policy = options.policy;
  const writer = new DecisionLogWriter(join(dir, 'decisions.sqlite'));
  const taskQueue = 'bench-gateway';
  const worker = await createRouterWorker({
    connection: server.nativeConnection,
    // The budget's reserve and settle activities reach the tenant's budget workflow through it.
    client: server.client,
    taskQueue,
    workflows: workflowCode(),
    deps: { catalog, policies: new Map([[policy.id, policy]]), providers: { instant: new InstantProvider() }, gate: new QualityGate({ validators: defaultValidators(), scorer: new ScorerByOrigin() }), decisionLog: writer },
    maxConcurrentActivityTaskExecutions: 200,
  });
  const router = new RouterClient({ client: server.client, taskQueue });
  const keys: Record<string, string> = { [TENANT]: generateApiKey(), [BUDGET_TENANT]: generateApiKey() };
  const tenant = (id: string, extra: object = {}) => ({ id, keys: [{ sha256: hashApiKey(keys[id]!) }], allowedPolicies: [policy.id], defaultPolicy: policy.id, rateLimit: { requestsPerMinute: 1_000_000 }, ...extra });
  const gateway = createGateway({
    router,
    temporal: server.client,
    taskQueue,
    tenants: parseTenantsFile({ tenants: [tenant(TENANT), tenant(BUDGET_TENANT, { budget: BUDGET })] }),
    catalogModels: catalog.models.map((m) => m.id),
    policyIds: [policy.id],
  });

  const viaClient: Call = async (requestId, prompt) => {
    const log = await router.route({ requestId, ...prompt, tenant: TENANT, policyId: policy.id });
    return { workflowId: log.workflowId, matches: (final) => log.answer !== '' && log.answer === final.answer && log.finalModel === final.finalModel };
  };
  const viaGateway = (openai: OpenAI, tenantId: string): Call => async (requestId, prompt) => {
    const completion = await openai.chat.completions.create(
      { model: 'router', messages: [{ role: 'user', content: prompt.prompt }], metadata: { taskType: prompt.taskType ?? 'other', ...(prompt.domain && { domain: prompt.domain }) } },
      { headers: { 'Idempotency-Key': requestId } },
    );
    return {
      workflowId: routeWorkflowId(tenantId, requestId),
      matches: (final) =>
        completion.object === 'chat.completion' &&
        completion.id === `chatcmpl-${requestId}` &&
        completion.model === final.finalModel &&
        final.answer !== '' &&
        completion.choices[0]?.message.content === final.answer,
    };
  };

  try {
    const baseURL = `${await gateway.listen({ port: 0, host: '127.0.0.1' })}/v1`;
    const openai = (id: string) => new OpenAI({ apiKey: keys[id]!, baseURL, maxRetries: 0 });
    const calls: Record<GatewayArm, Call> = { client: viaClient, gateway: viaGateway(openai(TENANT), TENANT), gatewayBudget: viaGateway(openai(BUDGET_TENANT), BUDGET_TENANT) };
    progress(`gateway at ${baseURL}; provider: ${PROVIDER}`);

    /** The requests `ids` through one arm, `concurrency` in flight; the clock stops at the last answer, then the runs' tails are waited for. */
    const batch = async (arm: GatewayArm, ids: string[], concurrency: number, sample?: ArmSample) => {
      const answers: Answered[] = [];
      const latencies: number[] = [];
      let next = 0;
      const cpuBefore = { process: process.cpuUsage(), server: cpuMs(server.pid) };
      const started = performance.now();
      await Promise.all(
        Array.from({ length: Math.min(concurrency, ids.length) }, async () => {
          for (let j = next++; j < ids.length; j = next++) {
            const t = performance.now();
            answers.push(await calls[arm](ids[j]!, PROMPTS[j % PROMPTS.length]!));
            latencies.push(performance.now() - t);
          }
        }),
      );
      const elapsed = performance.now() - started;
      const finals = await Promise.all(answers.map((a) => server.client.workflow.getHandle(a.workflowId).result() as Promise<DecisionLog>));
      if (!sample) return;
      sample.latenciesMs.push(...latencies);
      sample.elapsedMs += elapsed;
      const used = process.cpuUsage(cpuBefore.process);
      sample.processCpuMs += (used.user + used.system) / 1000;
      sample.serverCpuMs += cpuMs(server.pid) - cpuBefore.server;
      sample.verified += answers.filter((a, i) => a.matches(finals[i]!)).length;
    };

    const levels: LevelFigures[] = [];
    // Queried while the worker runs: the budget workflow answers queries through it.
    const ledger = await worker.runUntil(async () => {
      for (const c of options.concurrency) {
        const ids = (arm: GatewayArm, from: number, count: number, tag = '') => Array.from({ length: count }, (_, k) => `${arm}-c${c}${tag}-${from + k}`);
        // Warm-up, not counted: connections (one per in-flight request), caches, the first workflow tasks.
        for (const arm of GATEWAY_ARMS) await batch(arm, ids(arm, 0, c, '-warm'), c);
        const samples = Object.fromEntries(GATEWAY_ARMS.map((arm): [GatewayArm, ArmSample] => [arm, { latenciesMs: [], elapsedMs: 0, verified: 0, processCpuMs: 0, serverCpuMs: 0 }])) as Record<GatewayArm, ArmSample>;
        const size = roundSize(c);
        for (let from = 0, round = 0; from < options.requests; from += size, round++) {
          const count = Math.min(size, options.requests - from);
          // Every other round the other way round, so no arm always follows the same one.
          const order = round % 2 === 0 ? GATEWAY_ARMS : [...GATEWAY_ARMS].reverse();
          for (const arm of order) await batch(arm, ids(arm, from, count), c, samples[arm]);
        }
        const level = levelFigures(c, samples);
        levels.push(level);
        const a = level.arms;
        progress(
          `concurrency ${c}: client p50 ${a.client.p50Ms.toFixed(1)} ms ${a.client.rps.toFixed(1)}/s; gateway p50 ${a.gateway.p50Ms.toFixed(1)} ms (${level.toClient.gateway.p50.toFixed(2)}×) ${a.gateway.rps.toFixed(1)}/s; ` +
            `with budget p50 ${a.gatewayBudget.p50Ms.toFixed(1)} ms (${level.toClient.gatewayBudget.p50.toFixed(2)}×) ${a.gatewayBudget.rps.toFixed(1)}/s`,
        );
      }
      return router.getBudget(BUDGET_TENANT);
    });
    return {
      machine: benchMachine(),
      provider: PROVIDER,
      requests: options.requests,
      concurrency: options.concurrency,
      target: GATEWAY_P50_TARGET,
      levels,
      targetMet: levels.every((l) => l.targetMet),
      budget: { reserved: ledger.counters.reserved, settled: ledger.counters.settled, spentUsd: ledger.month.spentUsd },
    };
  } finally {
    await gateway.close();
    await writer.close();
    await server.teardown();
    rmSync(dir, { recursive: true, force: true });
  }
}
