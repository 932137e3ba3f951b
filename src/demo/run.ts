import type { Client } from '@temporalio/client';
import { routingMetrics, type RoutingMetrics } from '../analytics/metrics';
import { RouteRequestSchema, type RouteRequest } from '../domain/request';
import type { DecisionLog } from '../domain/results';
import type { RouterSession } from '../worker/session';
import { simulatedOutcome } from './groundTruth';
import { DEMO_REQUESTS } from './requests';

export interface DemoBatch {
  decisions: DecisionLog[];
  metrics: RoutingMetrics;
}

/** The demo batch through real routeRequest workflows on the session's server, scored against simulated ground truth. */
async function routeDemoBatch(session: RouterSession): Promise<DemoBatch> {
  const requests = DEMO_REQUESTS.map((r) => RouteRequestSchema.parse(r));
  const handles = await Promise.all(requests.map((r) => session.router.startRoute(r)));
  const decisions = await Promise.all(handles.map((h) => h.result()));
  const { catalog } = session.wiring.deps;
  const metrics = routingMetrics(decisions.map((d, i) => simulatedOutcome(d, requests[i]!, catalog, session.wiring.simulated)));
  return { decisions, metrics };
}

export interface LearningStream {
  requests: number;
  rules: RoutingMetrics;
  bandit: RoutingMetrics;
  /** The bandit's first choices, share per model, in each quarter of the stream. */
  banditChoicesByQuarter: Record<string, number>[];
  banditDecisions: DecisionLog[];
}

/** The demo batch again and again under fresh request ids (the simulator draws each request's difficulty anew). */
export function demoStream(rounds: number, policyId: string): RouteRequest[] {
  return Array.from({ length: rounds }, (_, round) =>
    DEMO_REQUESTS.map((r) => RouteRequestSchema.parse({ ...r, requestId: `stream-${policyId}-${round}-${r.requestId}`, policyId })),
  ).flat();
}

/** Routes `requests` through real workflows, `concurrency` at a time in stream order, so a learner sees the outcomes. */
async function routeInOrder(session: RouterSession, requests: readonly RouteRequest[], concurrency: number): Promise<DecisionLog[]> {
  const logs: DecisionLog[] = new Array(requests.length);
  let next = 0;
  const lane = async () => {
    // To the workflow's end, not the early answer: the learner has each outcome before the lane's next request.
    for (let i = next++; i < requests.length; i = next++) logs[i] = await session.router.route(requests[i]!, { earlyReturn: false });
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return logs;
}

function quarterShares(logs: readonly DecisionLog[]): Record<string, number>[] {
  const size = Math.ceil(logs.length / 4);
  return [0, 1, 2, 3].map((q) => {
    const slice = logs.slice(q * size, (q + 1) * size);
    const counts: Record<string, number> = {};
    for (const l of slice) counts[l.selectedModel] = (counts[l.selectedModel] ?? 0) + 1;
    return Object.fromEntries(Object.entries(counts).map(([m, n]) => [m, n / slice.length]));
  });
}

/**
 * The demo's learning part: a stream of simulated requests through the bandit policy, learning from each outcome as
 * it lands, beside the same stream under the rules policy. Both scored against the simulator's ground truth.
 */
async function routeLearningStream(session: RouterSession, options: { rounds: number; concurrency: number; banditPolicy: string; rulesPolicy: string }): Promise<LearningStream> {
  const { catalog } = session.wiring.deps;
  const score = (logs: DecisionLog[], requests: readonly RouteRequest[]) => routingMetrics(logs.map((d, i) => simulatedOutcome(d, requests[i]!, catalog, session.wiring.simulated)));
  const banditRequests = demoStream(options.rounds, options.banditPolicy);
  const rulesRequests = demoStream(options.rounds, options.rulesPolicy);
  const [banditLogs, rulesLogs] = await Promise.all([routeInOrder(session, banditRequests, options.concurrency), routeInOrder(session, rulesRequests, options.concurrency)]);
  return {
    requests: banditRequests.length,
    rules: score(rulesLogs, rulesRequests),
    bandit: score(banditLogs, banditRequests),
    banditChoicesByQuarter: quarterShares(banditLogs),
    banditDecisions: banditLogs,
  };
}

/** The demo's routing job (run while the session's worker runs): the batch under the rules, then the learning stream. */
export async function runDemoJob(session: RouterSession, stream: { rounds: number; concurrency: number }): Promise<{ batch: DemoBatch; learning: LearningStream }> {
  const batch = await routeDemoBatch(session);
  const learning = await routeLearningStream(session, { ...stream, banditPolicy: 'bandit', rulesPolicy: 'default' });
  // The bandit policy shadows a share of its requests; their samples belong in the report, so the caller keeps
  // the worker up until the shadow runs (started after each answer) have finished.
  await shadowRunsSettled(session.client);
  return { batch, learning };
}

/** Waits (at most `timeoutMs`) until no shadowEvaluation run is open, as the server's visibility sees it. */
async function shadowRunsSettled(client: Client, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { count } = await client.workflow.count(`WorkflowType = 'shadowEvaluation' AND ExecutionStatus = 'Running'`);
    if (count === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
