import { z } from 'zod';
import { policyBaseShape, RoutingRulesSchema } from '../../../domain/policy';

export const RulesPolicySchema = z
  .object({
    ...policyBaseShape,
    strategy: z.literal('rules'),
    rules: RoutingRulesSchema.refine((rules) => Object.keys(rules[rules.length - 1]?.when ?? { x: 1 }).length === 0, {
      message: 'the last rule must be a default with an empty "when"',
    }),
  })
  .strict();
export type RulesPolicy = z.infer<typeof RulesPolicySchema>;
