import { routingMetrics, type RoutingMetrics } from '../analytics/metrics';
import { RouteRequestSchema } from '../domain/request';
import type { DecisionLog } from '../domain/results';
import type { RouterSession } from '../worker/session';
import { simulatedOutcome } from './groundTruth';
import { DEMO_REQUESTS } from './requests';

export interface DemoBatch {
  decisions: DecisionLog[];
  metrics: RoutingMetrics;
}

/** The demo batch through real routeRequest workflows on the session's server, scored against simulated ground truth. */
export async function routeDemoBatch(session: RouterSession): Promise<DemoBatch> {
  const requests = DEMO_REQUESTS.map((r) => RouteRequestSchema.parse(r));
  const decisions = await session.worker.runUntil(async () => {
    const handles = await Promise.all(requests.map((r) => session.router.startRoute(r)));
    return Promise.all(handles.map((h) => h.result()));
  });
  const { catalog } = session.wiring.deps;
  const metrics = routingMetrics(decisions.map((d, i) => simulatedOutcome(d, requests[i]!, catalog, session.wiring.simulated)));
  return { decisions, metrics };
}
