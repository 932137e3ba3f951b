import type { Catalog } from '../../src/domain/catalog';
import { RoutingPolicySchema, type RoutingPolicy } from '../../src/routing/strategies/registry';
import defaultPolicy from '../../config/default-policy.json';

/** Three tiers on one provider, with timeouts short enough for tests. */
export function testCatalog(provider: string, startToCloseMs = 5_000): Catalog {
  const timeouts = { startToCloseMs, scheduleToCloseMs: startToCloseMs * 20 };
  return {
    models: [
      { id: 'small-model', provider, tier: 1, tierName: 'small', inputUsdPer1M: 0.15, outputUsdPer1M: 0.6, contextWindow: 128_000, timeouts },
      { id: 'medium-model', provider, tier: 2, tierName: 'medium', inputUsdPer1M: 0.4, outputUsdPer1M: 1.6, contextWindow: 128_000, timeouts },
      { id: 'large-model', provider, tier: 3, tierName: 'large', inputUsdPer1M: 2.5, outputUsdPer1M: 10, contextWindow: 128_000, timeouts },
    ],
  };
}

/**
 * testCatalog plus judge models (MODEL_ROUTER_JUDGE_MODEL and failover judges must be catalog ids). They sit in
 * the small tier but cost more than small-model, so neither routing nor escalation ever picks them.
 */
export function catalogWithJudges(provider: string, judgeIds: readonly string[]): Catalog {
  const catalog = testCatalog(provider);
  const timeouts = catalog.models[0]!.timeouts;
  const judges = judgeIds.map((id) => ({ id, provider, tier: 1, tierName: 'small' as const, inputUsdPer1M: 0.2, outputUsdPer1M: 0.8, contextWindow: 128_000, timeouts }));
  return { models: [...catalog.models, ...judges] };
}

export function defaultPolicies(overrides: Partial<RoutingPolicy> = {}): Map<string, RoutingPolicy> {
  const policy = RoutingPolicySchema.parse({ ...defaultPolicy, ...overrides });
  return new Map([[policy.id, policy]]);
}
