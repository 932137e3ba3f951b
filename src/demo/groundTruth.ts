import type { RequestOutcome } from '../analytics/metrics';
import type { Catalog } from '../domain/catalog';
import type { RouteRequest } from '../domain/request';
import type { DecisionLog } from '../domain/results';
import { promptChars, type SimulatedProvider } from '../providers/simulated';
import { bestModel, escalationLadder } from '../routing/ladder';

/**
 * Ground truth for the seed's metrics on simulated traffic. The simulator is deterministic per request, so asking it
 * what each catalog model would have answered gives the labels (cheapest passing tier) and the always-best
 * counterfactual.
 */
export function simulatedOutcome(log: DecisionLog, request: RouteRequest, catalog: Catalog, simulator: SimulatedProvider): RequestOutcome {
  const ladder = escalationLadder(catalog.models);
  const chars = promptChars(request.prompt, request.history);
  const spec = (model: string) => catalog.models.find((m) => m.id === model)!;
  const outcome = (model: string) => simulator.preview(request.requestId, spec(model), request.taskType, request.domain, chars, request.outputSchema);
  const best = bestModel(ladder);
  const tierOf = (model: string) => ladder.find((r) => r.id === model)!.tier;
  const passingTiers = ladder.filter((r) => outcome(r.id).passes).map((r) => r.tier);
  return {
    firstTier: tierOf(log.selectedModel),
    firstPassed: outcome(log.selectedModel).passes,
    cheapestPassingTier: passingTiers.length > 0 ? Math.min(...passingTiers) : undefined,
    escalated: log.wasEscalated,
    costUsd: log.costUsd,
    quality: outcome(log.finalModel).quality,
    bestCostUsd: outcome(best.id).costUsd!,
    bestQuality: outcome(best.id).quality,
  };
}
