import type { ActivityDeps } from '../../src/activities';
import { RoutingPolicySchema, type RoutingPolicy } from '../../src/routing/strategies/registry';
import { defaultPolicies } from './catalog';

/** A Thompson bandit policy for the test catalog; the state is re-read on every request (no cache). */
export function banditPolicy(id: string, bandit: Record<string, unknown> = {}): RoutingPolicy {
  return RoutingPolicySchema.parse({
    id,
    version: `${id}-v1`,
    strategy: 'bandit',
    gate: { threshold: 0.95 },
    maxEscalations: 2,
    bandit: { algorithm: 'thompson', context: 'bucket', lambda: 1, stateCacheMs: 0, ...bandit },
  });
}

/** The default rules policy plus the given bandit policies. */
export function withBanditPolicies(...policies: RoutingPolicy[]): Pick<ActivityDeps, 'policies'> {
  const all = defaultPolicies();
  for (const p of policies) all.set(p.id, p);
  return { policies: all };
}
