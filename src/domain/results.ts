import { z } from 'zod';
import { CustomerTierSchema, TimeSensitivitySchema } from './request';

/** A strategy's name; the strategy registry (src/routing/strategies/registry.ts) is the one list of them. */
export const StrategyNameSchema = z.string().regex(/^[a-z][a-z0-9-]*$/, 'must be a strategy name');

/** Where an answer came from: a real endpoint, or a simulated or replayed model (labelled as such everywhere). */
export const ANSWER_ORIGINS = ['live', 'simulated', 'replayed'] as const;
export const AnswerOriginSchema = z.enum(ANSWER_ORIGINS);
export type AnswerOrigin = z.infer<typeof AnswerOriginSchema>;

export const RoutingDecisionSchema = z.object({
  model: z.string(),
  /** 0..1: how sure the strategy is that `model` passes the gate. */
  confidence: z.number().min(0).max(1),
  confidenceAdjustment: z.number(),
  alternatives: z.array(z.string()),
  reason: z.string(),
  strategy: StrategyNameSchema,
  /** The rule (or other named element of the policy) that produced the decision. */
  ruleId: z.string().optional(),
  policyVersion: z.string(),
  /**
   * The probability with which `model` was chosen: 1 for a deterministic strategy, below 1 for one that explores.
   * Logged for off-policy (inverse-propensity) evaluation of other policies; absent in logs written before it existed.
   */
  propensity: z.number().gt(0).max(1).optional(),
  /** What a learning strategy decided on, sent back with the outcome: a feature bucket and a compact vector. */
  context: z.object({ bucket: z.string(), vector: z.array(z.number()) }).optional(),
});
export type RoutingDecision = z.infer<typeof RoutingDecisionSchema>;

/**
 * Calls that may have been billed but whose result was never seen: an activity attempt after the first knows the
 * attempts before it reached (or may have reached) the provider. Estimated from the request's input tokens and
 * what the provider can have produced, so it is an upper estimate and always marked as one.
 */
export const PossiblyBilledSchema = z.object({
  calls: z.number().int().positive(),
  usd: z.number().nonnegative(),
  estimate: z.literal(true),
});
export type PossiblyBilled = z.infer<typeof PossiblyBilledSchema>;

export const ModelResultSchema = z.object({
  model: z.string(),
  provider: z.string(),
  text: z.string(),
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  costUsd: z.number().nonnegative(),
  latencyMs: z.number().nonnegative(),
  /** "live" for a real endpoint; "simulated" and "replayed" answers are labelled as such everywhere. */
  origin: AnswerOriginSchema,
  /** Quality recorded for this answer (replay data or simulation profile), used by the recorded-verdict evaluator. */
  recordedQuality: z.number().min(0).max(1).optional(),
  /** Earlier attempts of this call that may have been billed (worker killed mid-call, server outage). */
  possiblyBilled: PossiblyBilledSchema.optional(),
});
export type ModelResult = z.infer<typeof ModelResultSchema>;

export const QualityVerdictSchema = z.object({
  passed: z.boolean(),
  score: z.number().min(0).max(1),
  threshold: z.number().min(0).max(1),
  evaluator: z.string(),
  reasons: z.array(z.string()),
  costUsd: z.number().nonnegative(),
  /** Earlier judge calls for this verdict that may have been billed. */
  possiblyBilled: PossiblyBilledSchema.optional(),
  /**
   * True when the judge could not be reached and the policy keeps answers on the validators alone: `passed` then
   * means "valid", and `score` is the threshold, not a measured quality.
   */
  unjudged: z.boolean().optional(),
});
export type QualityVerdict = z.infer<typeof QualityVerdictSchema>;

export const AttemptSchema = z.object({
  model: z.string(),
  /**
   * Why this model was tried: the routing decision, an escalation, the best-model fallback, or a speculative
   * partner raced beside the routed model.
   */
  cause: z.enum(['routed', 'escalation', 'best-fallback', 'speculative']),
  /**
   * How the call ended (absent in logs written before racing existed: completed, or failed when `error` is set).
   * A cancelled speculative call is still an attempt: its costUsd is what it can have cost.
   */
  status: z.enum(['completed', 'cancelled', 'failed']).optional(),
  /** True when costUsd is an estimate (a cancelled call whose provider reported no usage), not a billed figure. */
  costEstimated: z.boolean().optional(),
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  costUsd: z.number().nonnegative(),
  latencyMs: z.number().nonnegative(),
  origin: AnswerOriginSchema.optional(),
  verdict: QualityVerdictSchema.optional(),
  /** Set when the model call failed for good (after its retries). */
  error: z.string().optional(),
  /** Model and judge calls of this attempt that may have been billed on top of costUsd (an estimate). */
  possiblyBilled: PossiblyBilledSchema.optional(),
});
export type Attempt = z.infer<typeof AttemptSchema>;

export const RequestFeaturesSchema = z.object({
  taskType: z.string(),
  domain: z.string(),
  domainRisk: z.enum(['low', 'high']),
  promptTokens: z.number().int().nonnegative(),
  historyTurns: z.number().int().nonnegative(),
  fieldCount: z.number().int().nonnegative().optional(),
  reasoningMarkers: z.number().int().nonnegative(),
  expectedOutputTokens: z.number().int().nonnegative(),
  complexity: z.number().min(0).max(1),
  // Defaults: decision logs written before these features existed still parse.
  customerTier: CustomerTierSchema.default('standard'),
  timeSensitivity: TimeSensitivitySchema.default('normal'),
});
export type RequestFeatures = z.infer<typeof RequestFeaturesSchema>;

export const DecisionLogSchema = z.object({
  requestId: z.string(),
  workflowId: z.string(),
  timestamp: z.string(),
  tenant: z.string(),
  policyId: z.string(),
  policyVersion: z.string(),
  strategy: StrategyNameSchema,
  requestFeatures: RequestFeaturesSchema,
  decision: RoutingDecisionSchema,
  selectedModel: z.string(),
  finalModel: z.string(),
  alternativeModels: z.array(z.string()),
  confidence: z.number(),
  qualityScore: z.number(),
  passed: z.boolean(),
  /** Everything the request cost: every model call that completed plus every judge call. */
  costUsd: z.number().nonnegative(),
  /** What the best model would have cost on the same tokens, minus costUsd (negative when routing cost more). */
  costSavedUsd: z.number(),
  /** Calls that may have been billed but were never seen (repeated after a fault), estimated; not in costUsd. */
  possiblyBilledUsd: z.number().nonnegative().default(0),
  possiblyBilledCalls: z.number().int().nonnegative().default(0),
  bestModel: z.string(),
  wasEscalated: z.boolean(),
  escalations: z.number().int().nonnegative(),
  attempts: z.array(AttemptSchema),
  /** The first choice's propensity (decision.propensity; 1 for deterministic strategies and older logs). */
  propensity: z.number().gt(0).max(1).default(1),
  answer: z.string(),
  /** The prompt as the policy's storePrompts keeps it; absent for "none" and in the workflow's own result. */
  prompt: z
    .discriminatedUnion('storage', [
      z.object({ storage: z.literal('plain'), text: z.string() }),
      z.object({ storage: z.literal('hashed'), sha256: z.string() }),
    ])
    .optional(),
  /** "simulated" or "replayed" when any answer did not come from a live model. */
  origin: z.enum([...ANSWER_ORIGINS, 'mixed']),
  /**
   * Set when the tenant's budget refused a call the ladder wanted (an escalation, or the judge of an answer): the
   * ladder stopped there and the best answer so far was kept. Absent in logs without budgets.
   */
  budgetStop: z.object({ kind: z.enum(['model', 'judge']), model: z.string(), reason: z.string() }).optional(),
});
export type DecisionLog = z.infer<typeof DecisionLogSchema>;

/**
 * One shadow evaluation: after a request was answered, the best model answered it too and a judge scored both
 * answers blind (in an order it was not told). Quality retention on live traffic is estimated from these.
 */
export const ShadowSampleSchema = z.object({
  requestId: z.string(),
  /** The shadow run's own workflow id (a child of the request's workflow). */
  workflowId: z.string(),
  timestamp: z.string(),
  tenant: z.string(),
  policyId: z.string(),
  strategy: StrategyNameSchema,
  /** The model whose answer the request kept (the decision log's finalModel). */
  routedModel: z.string(),
  bestModel: z.string(),
  judgeModel: z.string(),
  routedScore: z.number().min(0).max(1),
  bestScore: z.number().min(0).max(1),
  /** Which answer the judge saw first: recorded so the order's effect can be checked. */
  routedShownFirst: z.boolean(),
  /** The best model's call plus the judge's: shadow cost, never part of the request's costUsd. */
  costUsd: z.number().nonnegative(),
  origin: z.enum([...ANSWER_ORIGINS, 'mixed']),
});
export type ShadowSample = z.infer<typeof ShadowSampleSchema>;

/** Where finished requests are written; implementations must treat a repeated requestId as already written. */
export interface DecisionLogSink {
  /** true when this call wrote the row, false when it was already there (void: written, for sinks that cannot tell). */
  record(log: DecisionLog): void | boolean | Promise<void | boolean>;
  /** Shadow samples, once per requestId as well. */
  recordShadow?(sample: ShadowSample): void | boolean | Promise<void | boolean>;
}
