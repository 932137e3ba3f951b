import { z } from 'zod';
import { banditStrategy } from './bandit';
import { classifierStrategy } from './classifier';
import { knnStrategy } from './knn';
import { rulesStrategy } from './rules';
import type { StrategyDefinition } from './types';

/**
 * Every routing strategy, once. The policy schema, the route activity, the offline evaluator and the CLI read this
 * list; adding a strategy is its folder and one line here.
 */
export const STRATEGIES = [rulesStrategy, classifierStrategy, knnStrategy, banditStrategy] as const;

type SchemasOf<T extends readonly unknown[]> = { -readonly [K in keyof T]: T[K] extends { policySchema: infer S } ? S : never };
type PolicySchemas = SchemasOf<typeof STRATEGIES>;

export const STRATEGY_NAMES: readonly string[] = STRATEGIES.map((s) => s.name);

/** A routing policy of any registered strategy, told apart by its `strategy` field. */
export const RoutingPolicySchema = z.discriminatedUnion(
  'strategy',
  STRATEGIES.map((s) => s.policySchema) as unknown as PolicySchemas,
);
export type RoutingPolicy = z.infer<typeof RoutingPolicySchema>;
export type StrategyName = RoutingPolicy['strategy'];

/** The definition of a policy's strategy. */
export function strategyOf(policy: RoutingPolicy): StrategyDefinition<RoutingPolicy> {
  return definitionNamed(policy.strategy);
}

export function definitionNamed(name: string): StrategyDefinition<RoutingPolicy> {
  const definition = STRATEGIES.find((s) => s.name === name);
  if (!definition) throw new Error(`unknown routing strategy "${name}" (known: ${STRATEGY_NAMES.join(', ')})`);
  // Each definition accepts exactly the policies its own schema parses, which is what the discriminant selects.
  return definition as unknown as StrategyDefinition<RoutingPolicy>;
}

/** Why a strategy cannot escalate by the cascade (it gives no pass probability for every model); undefined if it can. */
export function cascadeProblem(strategy: string): string | undefined {
  if (STRATEGY_NAMES.includes(strategy) && definitionNamed(strategy).cascades) return undefined;
  return `"cascade" needs a pass probability for every model, which the "${strategy}" strategy does not give (use "classifier", or "ladder")`;
}
