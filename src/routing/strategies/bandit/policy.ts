import { z } from 'zod';
import { policyBaseShape, RoutingRuleSchema } from '../../../domain/policy';
import { settingsProblems } from './state';
import { BANDIT_ALGORITHMS } from './types';

const ForgettingSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }).strict(),
  z.object({ kind: z.literal('discount'), factor: z.number().gt(0).max(1) }).strict(),
  z.object({ kind: z.literal('window'), size: z.number().int().min(4) }).strict(),
]);

export const BanditPolicySchema = z
  .object({
    ...policyBaseShape,
    strategy: z.literal('bandit'),
    bandit: z
      .object({
        algorithm: z.enum(BANDIT_ALGORITHMS).default('thompson'),
        context: z.enum(['global', 'bucket']).default('bucket'),
        /** Reward = quality − λ·(cost ÷ the best model's cost on the same request) − μ·latency in seconds. */
        lambda: z.number().nonnegative().default(1),
        mu: z.number().nonnegative().default(0),
        explorationRate: z.number().min(0).max(1).default(0.02),
        forgetting: ForgettingSchema.default({ kind: 'discount', factor: 0.9995 }),
        dedupWindow: z.number().int().min(1).max(100_000).default(4096),
        /** Rules that decide before the bandit (e.g. high-risk domains to the strong tier); their requests teach it nothing. */
        hardRules: z.array(RoutingRuleSchema).default([]),
        /** How long a worker reuses the state it read from the banditState workflow. */
        stateCacheMs: z.number().int().min(0).max(600_000).default(1000),
        /** Continue-as-new at this history length as well as when the server suggests it (tests). */
        continueAsNewAtHistoryLength: z.number().int().min(10).optional(),
      })
      .strict()
      .superRefine((b, ctx) => {
        for (const problem of settingsProblems({ ...b })) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem.replace(/^settings\./, '') });
      }),
  })
  .strict();
export type BanditPolicy = z.infer<typeof BanditPolicySchema>;
