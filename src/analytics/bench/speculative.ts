import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RouterClient } from '../../client';
import type { Catalog } from '../../domain/catalog';
import { RouteRequestSchema, type RouteRequest } from '../../domain/request';
import type { DecisionLog } from '../../domain/results';
import { DEMO_REQUESTS } from '../../demo/requests';
import { simulatedOutcome } from '../../demo/groundTruth';
import { ScorerByOrigin } from '../../evaluators/byOrigin';
import { QualityGate, defaultValidators } from '../../evaluators/gate';
import { promptChars, SimulatedProvider } from '../../providers/simulated';
import { assignFolds } from '../../routing/folds';
import { classifierStrategy } from '../../routing/strategies/classifier';
import type { Completion, CompletionRequest, ModelProvider } from '../../providers/types';
import { bestModel, escalationLadder } from '../../routing/ladder';
import { RoutingPolicySchema, type RoutingPolicy } from '../../routing/strategies/registry';
import { startLocalServer } from '../../servers/localServer';
import { workflowCode } from '../../worker/bundle';
import { createRouterWorker } from '../../worker/createWorker';
import { percentile } from '../percentile';

/*
 * `model-router bench speculative`: the same requests (the demo's mix) through real routeRequest workflows on an
 * embedded dev server, under four policies: the sequential ladder (the default rules), a classifier escalating by the
 * cascade (trained at the start on the simulator's outcomes for other request ids, so the measured requests are held
 * out; λ = 0.5, not tuned), the rules racing the best model when the decision's confidence is below a bar, and
 * always-best. The simulated provider sleeps its
 * latency profiles (src/providers/simulated/profiles.ts, assumed figures) and streams at their pace, so a cancelled
 * partner costs what it streamed. Latency is the caller's, to the (early) answer.
 */

export const ARMS = ['ladder', 'cascade', 'speculative', 'always-best'] as const;
export type Arm = (typeof ARMS)[number];

export interface ArmFigures {
  p50Ms: number;
  p95Ms: number;
  costPer1kUsd: number;
  /** Ground-truth quality of the kept answers ÷ always-best's, over the same requests. */
  qualityRetention: number;
  escalationRate: number;
}

export interface SpeculativeResult {
  requests: number;
  concurrency: number;
  latencyScale: number;
  whenConfidenceBelow: number;
  arms: Record<Arm, ArmFigures>;
  /** The requests whose decision raced the partner under the speculative policy. */
  raced: {
    count: number;
    share: number;
    byTaskType: Record<string, number>;
    /** Races whose routed answer passed: the partner was then cancelled, or had already answered (and cost). */
    routedPassed: number;
    partnerCancelled: number;
    partnerAnsweredUnneeded: number;
    /** What the cancelled calls cost (in the speculative arm's costUsd), and how many of them were estimates. */
    cancelledCostUsd: number;
    cancelledEstimated: number;
    /** The raced requests under each arm: the ladder, the race, and the partner alone (always-best). */
    p50Ms: Record<Arm, number>;
    p95Ms: Record<Arm, number>;
    costPer1kUsd: Record<Arm, number>;
  };
}

export interface SpeculativeOptions {
  requests: number;
  concurrency: number;
  /** Fraction of the simulated latency actually slept (1 = the profiles' seconds). */
  latencyScale: number;
  whenConfidenceBelow: number;
  catalog: Catalog;
  /** The rules policy every arm starts from. */
  policy: RoutingPolicy;
}

/**
 * The simulator draws a request's outcome from its requestId; each arm's runs need ids of their own (workflow ids
 * are business keys), so the arm's prefix is taken off before the simulator sees the id: three arms, one request.
 */
class SameRequestProvider implements ModelProvider {
  readonly name = 'simulated';
  readonly bills = false;
  constructor(private readonly inner: SimulatedProvider) {}
  complete(request: CompletionRequest): Promise<Completion> {
    return this.inner.complete({ ...request, requestId: baseRequestId(request.requestId) });
  }
}

const baseRequestId = (id: string) => id.slice(id.indexOf('.') + 1);

/** Rounds of the demo's requests, under ids of their own, that the cascade arm's classifier is trained on. */
const TRAINING_ROUNDS = 10;

/** A classifier artefact (with its cascade evidence) fitted on the simulator's verdicts for every catalog model. */
function trainCascadeArtefact(catalog: Catalog, simulator: SimulatedProvider, threshold: number, path: string): void {
  const examples = Array.from({ length: TRAINING_ROUNDS }, (_, k) =>
    DEMO_REQUESTS.map((demo) => {
      const request = RouteRequestSchema.parse({ ...demo, requestId: `train-${k}-${demo.requestId}` });
      const chars = promptChars(request.prompt, request.history);
      const passes = Object.fromEntries(catalog.models.map((m) => [m.id, simulator.preview(request.requestId, m, request.taskType, request.domain, chars, request.outputSchema).passes]));
      return { request, passes };
    }),
  ).flat();
  const ladder = escalationLadder(catalog.models);
  const folds = assignFolds(examples.map((e) => e.request.requestId), 5, 1);
  const fitted = classifierStrategy.fit!(examples, folds, ladder, { createdAt: new Date(0).toISOString(), passThreshold: threshold, judgeCostRatio: 0.1, trainingData: [], seed: 1 });
  writeFileSync(path, JSON.stringify(fitted.artefact));
}

function armPolicies(options: SpeculativeOptions, artefactPath: string): Record<Arm, RoutingPolicy> {
  const best = bestModel(escalationLadder(options.catalog.models)).id;
  const base = { ...options.policy, speculative: undefined };
  const parse = (policy: object) => RoutingPolicySchema.parse(JSON.parse(JSON.stringify(policy)));
  const { rules: _rules, strategy: _strategy, ...common } = base as RoutingPolicy & { rules?: unknown };
  return {
    ladder: parse({ ...base, id: 'bench-ladder' }),
    cascade: parse({ ...common, id: 'bench-cascade', strategy: 'classifier', classifier: { artefactPath, lambda: 0.5 }, escalation: 'cascade' }),
    speculative: parse({ ...base, id: 'bench-speculative', speculative: { whenConfidenceBelow: options.whenConfidenceBelow, partner: 'best', prefer: 'cost' } }),
    'always-best': parse({
      ...base,
      id: 'bench-always-best',
      rules: [{ id: 'always-best', description: 'Every request to the best model: the baseline.', when: {}, route: { model: best }, confidence: 1 }],
    }),
  };
}

export async function benchSpeculative(options: SpeculativeOptions, progress: (line: string) => void = () => {}): Promise<SpeculativeResult> {
  if (options.policy.strategy !== 'rules') throw new Error(`bench speculative starts from a rules policy, got strategy "${options.policy.strategy}"`);
  const dir = mkdtempSync(join(tmpdir(), 'router-speculative-'));
  const server = await startLocalServer({ logFile: join(dir, 'temporal.log') });
  const simulator = new SimulatedProvider({ latencyScale: options.latencyScale });
  const catalog: Catalog = { models: options.catalog.models.map((m) => ({ ...m, provider: 'simulated' })) };
  const artefactPath = join(dir, 'cascade-classifier.json');
  trainCascadeArtefact(catalog, simulator, options.policy.gate.threshold, artefactPath);
  const policies = armPolicies(options, artefactPath);
  const taskQueue = 'bench-speculative';
  const worker = await createRouterWorker({
    connection: server.nativeConnection,
    taskQueue,
    workflows: workflowCode(),
    deps: {
      catalog,
      policies: new Map(ARMS.map((arm) => [policies[arm].id, policies[arm]])),
      providers: { simulated: new SameRequestProvider(simulator) },
      gate: new QualityGate({ validators: defaultValidators(), scorer: new ScorerByOrigin() }),
    },
    maxConcurrentActivityTaskExecutions: 200,
  });
  const router = new RouterClient({ client: server.client, taskQueue });
  const requests: RouteRequest[] = Array.from({ length: options.requests }, (_, i) => {
    const demo = DEMO_REQUESTS[i % DEMO_REQUESTS.length]!;
    return RouteRequestSchema.parse({ ...demo, requestId: `${demo.requestId}-${Math.floor(i / DEMO_REQUESTS.length)}` });
  });
  const logs = Object.fromEntries(ARMS.map((arm) => [arm, new Array<DecisionLog>(requests.length)])) as Record<Arm, DecisionLog[]>;
  const latencies = Object.fromEntries(ARMS.map((arm) => [arm, new Array<number>(requests.length)])) as Record<Arm, number[]>;
  try {
    await worker.runUntil(async () => {
      // Interleaved (request by request, every arm), so drift in the machine's load falls on every arm alike.
      const jobs = requests.flatMap((_, i) => ARMS.map((arm) => ({ arm, i })));
      const ended: Promise<unknown>[] = [];
      let next = 0;
      let done = 0;
      await Promise.all(
        Array.from({ length: options.concurrency }, async () => {
          for (let j = next++; j < jobs.length; j = next++) {
            const { arm, i } = jobs[j]!;
            const request = { ...requests[i]!, requestId: `${arm}.${requests[i]!.requestId}`, policyId: policies[arm].id };
            const started = performance.now();
            const log = await router.route(request);
            latencies[arm][i] = performance.now() - started;
            logs[arm][i] = log;
            ended.push(server.client.workflow.getHandle(log.workflowId).result());
            if (++done % 60 === 0) progress(`${done}/${jobs.length} runs`);
          }
        }),
      );
      await Promise.all(ended);
    });
  } finally {
    await server.teardown();
    rmSync(dir, { recursive: true, force: true });
  }

  const outcomes = (arm: Arm) => logs[arm].map((log, i) => simulatedOutcome(log, requests[i]!, catalog, simulator));
  const bestQuality = outcomes('always-best').reduce((s, o) => s + o.quality, 0);
  const arms = Object.fromEntries(
    ARMS.map((arm) => {
      const o = outcomes(arm);
      return [
        arm,
        {
          p50Ms: percentile(latencies[arm], 50),
          p95Ms: percentile(latencies[arm], 95),
          costPer1kUsd: (logs[arm].reduce((s, l) => s + l.costUsd, 0) / requests.length) * 1000,
          qualityRetention: bestQuality > 0 ? o.reduce((s, x) => s + x.quality, 0) / bestQuality : 1,
          escalationRate: logs[arm].filter((l) => l.wasEscalated).length / requests.length,
        },
      ];
    }),
  ) as Record<Arm, ArmFigures>;

  const racedIdx = logs.speculative.flatMap((log, i) => (log.attempts.some((a) => a.cause === 'speculative') ? [i] : []));
  const byTaskType: Record<string, number> = {};
  for (const i of racedIdx) byTaskType[requests[i]!.taskType] = (byTaskType[requests[i]!.taskType] ?? 0) + 1;
  const partners = racedIdx.map((i) => logs.speculative[i]!.attempts.find((a) => a.cause === 'speculative')!);
  const cancelled = partners.filter((a) => a.status === 'cancelled');
  const racedLatency = (arm: Arm, p: number) => percentile(racedIdx.map((i) => latencies[arm][i]!), p);
  const racedCost = (arm: Arm) => (racedIdx.length > 0 ? (racedIdx.reduce((sum, i) => sum + logs[arm][i]!.costUsd, 0) / racedIdx.length) * 1000 : 0);
  const perArm = (f: (arm: Arm) => number) => Object.fromEntries(ARMS.map((arm) => [arm, f(arm)])) as Record<Arm, number>;
  return {
    requests: requests.length,
    concurrency: options.concurrency,
    latencyScale: options.latencyScale,
    whenConfidenceBelow: options.whenConfidenceBelow,
    arms,
    raced: {
      count: racedIdx.length,
      share: racedIdx.length / requests.length,
      byTaskType,
      routedPassed: racedIdx.filter((i) => logs.speculative[i]!.attempts[0]!.verdict?.passed).length,
      partnerCancelled: cancelled.length,
      partnerAnsweredUnneeded: partners.filter((a) => a.status === 'completed' && !a.verdict).length,
      cancelledCostUsd: cancelled.reduce((sum, a) => sum + a.costUsd, 0),
      cancelledEstimated: cancelled.filter((a) => a.costEstimated).length,
      p50Ms: perArm((arm) => racedLatency(arm, 50)),
      p95Ms: perArm((arm) => racedLatency(arm, 95)),
      costPer1kUsd: perArm(racedCost),
    },
  };
}
