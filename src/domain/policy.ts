import { z } from 'zod';
import { CustomerTierSchema, TaskTypeSchema, TimeSensitivitySchema } from './request';
import { TierNameSchema } from './catalog';

/** Every listed condition must hold (AND); an empty `when` matches every request. */
export const RuleConditionSchema = z
  .object({
    taskType: z.array(TaskTypeSchema).min(1).optional(),
    domain: z.array(z.string().min(1)).min(1).optional(),
    domainRisk: z.enum(['low', 'high']).optional(),
    fieldCountBelow: z.number().int().positive().optional(),
    fieldCountAtLeast: z.number().int().nonnegative().optional(),
    promptTokensAbove: z.number().int().nonnegative().optional(),
    historyTurnsAbove: z.number().int().nonnegative().optional(),
    reasoningMarkersAtLeast: z.number().int().positive().optional(),
    customerTier: z.array(CustomerTierSchema).min(1).optional(),
    timeSensitivity: z.array(TimeSensitivitySchema).min(1).optional(),
  })
  .strict();
export type RuleCondition = z.infer<typeof RuleConditionSchema>;

export const RoutingRuleSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lower-case letters, digits and "-"'),
    description: z.string().min(1),
    when: RuleConditionSchema,
    /** Route to the cheapest model of a tier, or to one named model. */
    route: z.union([z.object({ tier: TierNameSchema }).strict(), z.object({ model: z.string().min(1) }).strict()]),
    /** How sure the rule's author is that the target passes the gate; reported as the decision's confidence. */
    confidence: z.number().min(0).max(1).default(0.8),
  })
  .strict();
export type RoutingRule = z.infer<typeof RoutingRuleSchema>;

/**
 * What the quality gate does when the judge cannot give a verdict (its call failed, or its circuit is open):
 * - "escalate" (the default): the answer counts as unverified and the request climbs the ladder;
 * - "keep-unjudged": an answer that passed the validators is kept, its verdict marked `unjudged`;
 * - {"failover": "<catalog model id>"}: that model judges instead (and if it cannot either, escalate).
 */
export const JudgeUnavailableSchema = z.union([z.enum(['escalate', 'keep-unjudged']), z.object({ failover: z.string().min(1) }).strict()]);
export type JudgeUnavailable = z.infer<typeof JudgeUnavailableSchema>;

/**
 * Speculative routing: when the decision's confidence is below the bar, the routed model and a partner run at once;
 * the routed answer is gated first, the partner is cancelled when it passes. `prefer: "latency"` keeps the partner's
 * answer when it arrives and passes first.
 */
export const SpeculativeSchema = z
  .object({
    whenConfidenceBelow: z.number().min(0).max(1),
    partner: z.union([z.literal('best'), z.object({ tier: TierNameSchema }).strict(), z.object({ model: z.string().min(1) }).strict()]),
    prefer: z.enum(['cost', 'latency']).default('cost'),
  })
  .strict();
export type Speculative = z.infer<typeof SpeculativeSchema>;

/**
 * Shadow evaluation: for `sampleRate` of the requests (chosen by request id, so a replay chooses the same), the best
 * model answers too after the request has been answered, and a judge scores both answers blind. `judgeModel` (a
 * catalog id) judges both in one pairwise call; without it the gate's scorer scores each answer on its own.
 */
export const ShadowSchema = z
  .object({
    sampleRate: z.number().min(0, 'must be a share between 0 and 1').max(1, 'must be a share between 0 and 1'),
    judgeModel: z.string().min(1, 'must be a catalog model id').optional(),
  })
  .strict();
export type Shadow = z.infer<typeof ShadowSchema>;

/** The fields every routing policy has, whatever its strategy (each strategy's schema adds its own). */
export const policyBaseShape = {
  id: z.string().min(1),
  version: z.string().min(1),
  gate: z.object({ threshold: z.number().min(0).max(1), onJudgeUnavailable: JudgeUnavailableSchema.optional() }).strict(),
  maxEscalations: z.number().int().min(0).max(5),
  /** Prompts at rest in the decision log: the text, its SHA-256 (find repeats without reading them), or nothing. */
  storePrompts: z.enum(['plain', 'hashed', 'none']).default('hashed'),
  /**
   * How the quick steps after planning run: "local" (local activities: no task-queue round trip, a smaller history)
   * or "activity" (regular activities, each visible as its own task). Model calls and LLM judges are always activities.
   */
  quickSteps: z.enum(['local', 'activity']).default('local'),
  /**
   * After a failed attempt: "ladder" (default: the next stronger tier, then the best model) or "cascade" (the model
   * with the largest expected gain for its price given what already failed, or stop; needs a classifier artefact
   * trained with cascade data).
   */
  escalation: z.enum(['ladder', 'cascade']).optional(),
  /** Dollars per request the caller would pay for one more point (1 %) of pass probability; beside λ, for the cascade. */
  willingnessToPayUsd: z.number().positive().optional(),
  speculative: SpeculativeSchema.optional(),
  shadow: ShadowSchema.optional(),
};
export const PolicyBaseSchema = z.object(policyBaseShape).strict();
export type PolicyBase = z.infer<typeof PolicyBaseSchema>;

/** Ordered rules: at least one, unique ids. */
export const RoutingRulesSchema = z
  .array(RoutingRuleSchema)
  .min(1, 'must have at least one rule')
  .refine((rules) => new Set(rules.map((r) => r.id)).size === rules.length, { message: 'rule ids must be unique' });

/** The options of a policy that routes with a trained artefact (classifier, kNN). */
export const ArtefactPolicyOptionsSchema = z
  .object({
    /** The artefact written by `model-router train`; a relative path is taken from the working directory. */
    artefactPath: z.string().min(1),
    /** The cost-quality knob; defaults to the operating point stored in the artefact, else 1. */
    lambda: z.number().nonnegative().optional(),
    /** Judge cost as a share of the cheapest model's call; defaults to the artefact's operating point, else 0.1. */
    judgeCostRatio: z.number().nonnegative().optional(),
  })
  .strict();
