import { banditStateInput, OutcomeBatcher } from '../../activities/bandit';
import { banditWorkflowId } from '../../domain/workflowIds';
import { escalationLadder } from '../../routing/ladder';
import { CONTEXT_DIMENSION } from '../../routing/strategies/bandit/dimension';
import type { BanditOutcome } from '../../routing/strategies/bandit/types';
import { RoutingPolicySchema } from '../../routing/strategies/registry';
import { createRouterWorker } from '../../worker/createWorker';
import { workflowCode } from '../../worker/bundle';
import type { Worker } from '@temporalio/worker';
import type { RouterSession } from '../../worker/session';
import { banditOutcomesSignal, banditViewQuery, DEFAULT_DELIVERIES_PER_RUN, type banditState } from '../../workflows/banditState';

/*
 * `model-router bench bandit`: N outcomes signalled one by one (as route workflows send them) into one banditState,
 * a share of them delivered twice, with the worker replaced halfway; then whether every requestId was counted
 * exactly once, the rate, and how continue-as-new kept the history bounded.
 */

export interface BanditBenchOptions {
  outcomes: number;
  /** Share of deliveries that repeat an earlier requestId. */
  duplicateShare: number;
  /** Route activities (or senders) in flight at once. */
  concurrency: number;
  /**
   * A continue-as-new threshold in history events, besides the server's suggestion and the state's own per-run
   * delivery count (DEFAULT_DELIVERIES_PER_RUN); none by default, as in production.
   */
  continueAsNewAt?: number;
}

export interface DeliveryRun {
  outcomesPerSec: number;
  exact: boolean;
  historyLength: number;
  continuedAsNew: number;
  workerRestarts: number;
  counted: { outcomes: number; duplicates: number; rejected: number };
}

export interface BanditBenchResult extends DeliveryRun {
  outcomes: number;
  deliveries: number;
  /** The baseline: one signal per outcome (no batching), same server, at most UNBATCHED_OUTCOMES outcomes. */
  unbatched: DeliveryRun & { outcomes: number };
  /** outcomesPerSec ÷ unbatched.outcomesPerSec. */
  speedupOverUnbatched: number;
}

function outcome(i: number, arms: readonly string[]): BanditOutcome {
  const vector = new Array<number>(CONTEXT_DIMENSION).fill(0);
  vector[0] = 1;
  vector[1 + (i % 17)] = 0.5;
  return {
    requestId: `bench-${i}`,
    arm: arms[i % arms.length]!,
    context: { bucket: ['classification|low|short', 'reasoning|low|medium', 'code|low|long'][i % 3]!, vector },
    quality: i % 5 === 0 ? 0 : 1,
    costUsd: 0.0001 * (1 + (i % 7)),
    bestCostUsd: 0.002,
    latencyMs: 200 + (i % 11) * 30,
    propensity: 0.5,
  };
}

/** Every outcome once, plus duplicates of earlier ones spread through the stream. */
function deliveryOrder(outcomes: number, duplicateShare: number): { order: number[]; duplicates: number } {
  const order: number[] = [];
  const duplicates = Math.round(outcomes * duplicateShare);
  const every = duplicates > 0 ? Math.max(1, Math.floor(outcomes / duplicates)) : Infinity;
  let repeated = 0;
  for (let i = 0; i < outcomes; i++) {
    order.push(i);
    if (i % every === every - 1 && repeated < duplicates) {
      order.push(i - Math.floor(every / 2));
      repeated += 1;
    }
  }
  return { order, duplicates: repeated };
}

/** Delivers `order` into a fresh state workflow through `send`, replacing the worker halfway. */
async function deliverAll(session: RouterSession, policyName: string, order: readonly number[], duplicates: number, options: BanditBenchOptions, batched: boolean, firstWorker?: Worker): Promise<DeliveryRun> {
  const policy = RoutingPolicySchema.parse({
    id: `${policyName}-${Date.now()}`,
    version: 'bench',
    strategy: 'bandit',
    gate: { threshold: 0.95 },
    maxEscalations: 2,
    bandit: { algorithm: 'thompson', ...(options.continueAsNewAt ? { continueAsNewAtHistoryLength: options.continueAsNewAt } : {}) },
  });
  const ladder = escalationLadder(session.wiring.deps.catalog.models);
  const arms = ladder.map((r) => r.id);
  const input = banditStateInput(policy, ladder);
  const workflowId = banditWorkflowId(policy.id);
  const { client } = session;
  const taskQueue = session.worker.options.taskQueue;
  const signal = (outcomes: BanditOutcome[]) =>
    client.workflow.signalWithStart<typeof banditState, [BanditOutcome[]]>('banditState', { workflowId, taskQueue, args: [input], signal: banditOutcomesSignal, signalArgs: [outcomes] });
  // Batched is the route activity's own path (OutcomeBatcher); unbatched sends one signal per outcome.
  const batcher = new OutcomeBatcher((_policyId, outcomes) => signal(outcomes).then(() => undefined));
  const send = (i: number) => (batched ? batcher.send(policy.id, outcome(i, arms)) : signal([outcome(i, arms)]).then(() => undefined));

  const newWorker = () => createRouterWorker({ connection: session.nativeConnection, client, taskQueue, deps: session.wiring.deps, workflows: workflowCode() });
  let worker = firstWorker ?? (await newWorker());
  let running = worker.run();
  const started = Date.now();
  let next = 0;
  let restarts = 0;
  const half = Math.floor(order.length / 2);
  const lane = async () => {
    for (let k = next++; k < order.length; k = next++) {
      await send(order[k]!);
      if (k === half) {
        // The worker goes away halfway; the server keeps the signals until a new one folds them.
        worker.shutdown();
        await running;
        worker = await newWorker();
        running = worker.run();
        restarts += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, lane));

  const handle = client.workflow.getHandle<typeof banditState>(workflowId);
  let view = await handle.query(banditViewQuery);
  for (;;) {
    const { outcomes: o, duplicates: d, rejected: r } = view.summary.counters;
    if (o + d + r >= order.length) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
    view = await handle.query(banditViewQuery);
  }
  const seconds = (Date.now() - started) / 1000;
  // A continue-as-new that a steady signal stream kept pre-empting lands once the stream stops: give it a moment.
  const due = order.length >= DEFAULT_DELIVERIES_PER_RUN || (options.continueAsNewAt !== undefined && view.historyLength >= options.continueAsNewAt);
  for (let wait = 0; due && view.continuedAsNew === 0 && wait < 40; wait++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    view = await handle.query(banditViewQuery);
  }
  worker.shutdown();
  await running;
  const counted = view.summary.counters;
  return {
    outcomesPerSec: order.length / seconds,
    exact: counted.outcomes === order.length - duplicates && counted.duplicates === duplicates && counted.rejected === 0,
    historyLength: view.historyLength,
    continuedAsNew: view.continuedAsNew,
    workerRestarts: restarts,
    counted: { outcomes: counted.outcomes, duplicates: counted.duplicates, rejected: counted.rejected },
  };
}

/**
 * One signal per outcome is capped well below the server's limit of 10,000 signals per run (the dev server's
 * default): under a steady signal stream a continue-as-new keeps being pre-empted by newer signals, so that run
 * would hit the limit. Batching is the way past it, which is what the comparison shows.
 */
const UNBATCHED_OUTCOMES = 3_000;

export async function benchBandit(session: RouterSession, options: BanditBenchOptions): Promise<BanditBenchResult> {
  const { order, duplicates } = deliveryOrder(options.outcomes, options.duplicateShare);
  const baseline = deliveryOrder(Math.min(options.outcomes, UNBATCHED_OUTCOMES), options.duplicateShare);
  // The session's worker starts the first run; each run replaces its worker halfway.
  const unbatched = await deliverAll(session, 'bench-unbatched', baseline.order, baseline.duplicates, options, false, session.worker);
  const batched = await deliverAll(session, 'bench-batched', order, duplicates, options, true);
  return { outcomes: options.outcomes, deliveries: order.length, ...batched, unbatched: { ...unbatched, outcomes: Math.min(options.outcomes, UNBATCHED_OUTCOMES) }, speedupOverUnbatched: batched.outcomesPerSec / unbatched.outcomesPerSec };
}
