/**
 * The seed's routing metrics, measured against always sending every request to the best model.
 * Pure arithmetic over per-request outcomes, so the demo, the offline evaluator and tests share one definition.
 */
export interface RequestOutcome {
  /** Tier of the model the router chose first. */
  firstTier: number;
  /** Whether that first choice would pass the gate (ground truth, not the gate's possibly wrong verdict). */
  firstPassed: boolean;
  /** Lowest tier holding a model that passes; undefined when no model passes. */
  cheapestPassingTier: number | undefined;
  escalated: boolean;
  /** Everything the request cost: model calls and judge calls. */
  costUsd: number;
  /** Ground-truth quality (0..1) of the answer the router kept. */
  quality: number;
  /** Cost and quality of the always-best counterfactual for the same request. */
  bestCostUsd: number;
  bestQuality: number;
}

export interface RoutingMetrics {
  requests: number;
  /** Share of requests whose first choice passes and lies in the cheapest tier that has a passing model. */
  routingAccuracy: number;
  /**
   * Routing accuracy's two halves of error, over the same requests (the three add up to 1): under-routing, the first
   * choice failed; over-routing, it passed but a model of a cheaper tier would have passed too.
   */
  underRouting: number;
  overRouting: number;
  /** Requests counted by routingAccuracy: those where some model passes. */
  labelledRequests: number;
  /** 1 − routed cost ÷ always-best cost. */
  costSavings: number;
  /** Routed quality ÷ always-best quality, summed over requests. */
  qualityRetention: number;
  escalationRate: number;
  costUsd: number;
  bestCostUsd: number;
}

export function routingMetrics(outcomes: readonly RequestOutcome[]): RoutingMetrics {
  if (outcomes.length === 0) throw new Error('routing metrics need at least one request');
  const sum = (f: (o: RequestOutcome) => number) => outcomes.reduce((s, o) => s + f(o), 0);
  const labelled = outcomes.filter((o) => o.cheapestPassingTier !== undefined);
  const correct = labelled.filter((o) => o.firstPassed && o.firstTier === o.cheapestPassingTier).length;
  const under = labelled.filter((o) => !o.firstPassed).length;
  const share = (count: number) => (labelled.length > 0 ? count / labelled.length : 0);
  const costUsd = sum((o) => o.costUsd);
  const bestCostUsd = sum((o) => o.bestCostUsd);
  const bestQuality = sum((o) => o.bestQuality);
  return {
    requests: outcomes.length,
    routingAccuracy: share(correct),
    underRouting: share(under),
    overRouting: share(labelled.length - correct - under),
    labelledRequests: labelled.length,
    costSavings: bestCostUsd > 0 ? 1 - costUsd / bestCostUsd : 0,
    qualityRetention: bestQuality > 0 ? sum((o) => o.quality) / bestQuality : 1,
    escalationRate: outcomes.filter((o) => o.escalated).length / outcomes.length,
    costUsd,
    bestCostUsd,
  };
}
