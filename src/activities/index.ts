import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Catalog, ModelSpec } from '../domain/catalog';
import { FailureType } from '../domain/failures';
import { redactSecrets } from '../domain/redact';
import { RouteRequestSchema, type RouteRequest } from '../domain/request';
import type { DecisionLog, DecisionLogSink, ModelResult, QualityVerdict, RoutingDecision } from '../domain/results';
import { parseOrThrow, ValidationError } from '../domain/validation';
import type { QualityGate } from '../evaluators/gate';
import { RecordedVerdictMissingError } from '../evaluators/recorded';
import { ProviderError, type ModelProvider } from '../providers/types';
import { priceTokens } from '../domain/cost';
import { extractFeatures } from '../routing/features';
import { unitHash } from '../routing/hash';
import { escalationLadder } from '../routing/ladder';
import { escalationPlan, routePlan, type RoutePlan } from '../routing/plan';
import { seededRandom } from '../routing/random';
import { strategyOf, type RoutingPolicy } from '../routing/strategies/registry';
import type { RoutingStrategy, StrategyEnv } from '../routing/strategies/types';
import { BanditStateCache, createBanditActivities, type TemporalAccess } from './bandit';
import { fileStrategyEnv } from './fileCache';


export interface ActivityDeps {
  catalog: Catalog;
  policies: ReadonlyMap<string, RoutingPolicy>;
  /** By provider name, as ModelSpec.provider names them. */
  providers: Readonly<Record<string, ModelProvider>>;
  gate: QualityGate;
  decisionLog?: DecisionLogSink;
  /** How often a long model call reports liveness to Temporal. */
  heartbeatIntervalMs?: number;
  /** How strategies reach files (artefacts); default: read from disk through a per-worker cache. */
  strategyEnv?: StrategyEnv;
  /** The Temporal service, for strategies whose state lives in a workflow (the bandit); without it they start fresh. */
  temporal?: TemporalAccess;
}

export interface CallModelInput {
  request: RouteRequest;
  modelId: string;
}

export interface EvaluateInput {
  request: RouteRequest;
  result: ModelResult;
  threshold: number;
}

/**
 * Maps a provider's failure onto Temporal's retry semantics. The message goes into history, the decision log and
 * the worker log, so it is redacted here too: a provider that does not know its own secrets still cannot leak a
 * key- or Authorization-shaped value.
 */
export function toActivityFailure(err: ProviderError, model: string): ApplicationFailure {
  const message = redactSecrets(`${model}: ${err.message}`);
  switch (err.kind) {
    case 'invalid-request':
      return ApplicationFailure.nonRetryable(message, FailureType.InvalidRequest, err.details);
    case 'rate-limited':
      return ApplicationFailure.create({
        message,
        type: FailureType.RateLimited,
        details: [err.details],
        ...(err.details.retryAfterMs !== undefined ? { nextRetryDelay: err.details.retryAfterMs } : {}),
      });
    case 'timeout':
      return ApplicationFailure.retryable(message, FailureType.ProviderTimeout, err.details);
    case 'malformed-response':
      return ApplicationFailure.retryable(message, FailureType.MalformedResponse, err.details);
    case 'unavailable':
      return ApplicationFailure.retryable(message, FailureType.ProviderUnavailable, err.details);
  }
}

/** Runs `work` while heartbeating, so a dead worker is noticed long before the call's own timeout. */
async function withHeartbeat<T>(intervalMs: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const timer = setInterval(() => ctx.heartbeat(), intervalMs);
  try {
    return await work(ctx.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}

export function createActivities(deps: ActivityDeps) {
  const ladder = escalationLadder(deps.catalog.models);
  const modelsById = new Map<string, ModelSpec>(deps.catalog.models.map((m) => [m.id, m]));

  function modelSpec(id: string): ModelSpec {
    const spec = modelsById.get(id);
    if (!spec) throw ApplicationFailure.nonRetryable(`model "${id}" is not in the catalog (${[...modelsById.keys()].join(', ')})`, FailureType.UnknownModel);
    return spec;
  }

  /** Re-validates at the activity edge: histories outlive deployments and may carry older shapes. */
  function validRequest(request: unknown): RouteRequest {
    try {
      return parseOrThrow(RouteRequestSchema, request, 'RouteRequest');
    } catch (err) {
      if (err instanceof ValidationError) throw ApplicationFailure.nonRetryable(err.message, FailureType.ValidationError);
      throw err;
    }
  }

  const env = deps.strategyEnv ?? fileStrategyEnv(ladder);
  const banditStates = deps.temporal ? new BanditStateCache(deps.temporal.client) : undefined;
  // One strategy per policy, and per state read for a learning one (the state is read afresh every stateCacheMs).
  const strategies = new Map<string, { learnedState: unknown; strategy: RoutingStrategy }>();
  async function strategyFor(policy: RoutingPolicy): Promise<RoutingStrategy> {
    const definition = strategyOf(policy);
    const learnedState = definition.learning && banditStates ? await banditStates.read(policy) : undefined;
    const hit = strategies.get(policy.id);
    if (hit && hit.learnedState === learnedState) return hit.strategy;
    const strategy = definition.create(policy, learnedState === undefined ? env : { ...env, learnedState });
    strategies.set(policy.id, { learnedState, strategy });
    return strategy;
  }

  async function decide(policy: RoutingPolicy, request: RouteRequest, features: RoutePlan['features']): Promise<RoutingDecision> {
    try {
      // Seeded by the request: a retried activity explores the same way, so its decision does not change.
      const random = seededRandom(Math.floor(unitHash('route', request.requestId) * 2 ** 32));
      return (await strategyFor(policy)).decide({ request, features, random });
    } catch (err) {
      // A missing, broken or mismatched artefact is configuration: retrying the request cannot fix it.
      if (err instanceof ValidationError || (err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw ApplicationFailure.nonRetryable(`policy "${policy.id}": ${(err as Error).message}`, FailureType.UnknownPolicy);
      }
      throw err;
    }
  }

  return {
    async planRoute(input: RouteRequest): Promise<RoutePlan> {
      const request = validRequest(input);
      const policy = deps.policies.get(request.policyId);
      if (!policy) {
        throw ApplicationFailure.nonRetryable(
          `policyId "${request.policyId}" is not configured (known: ${[...deps.policies.keys()].join(', ')})`,
          FailureType.UnknownPolicy,
        );
      }
      const features = extractFeatures(request);
      const decision = await decide(policy, request, features);
      const bounds = { maxEscalations: policy.maxEscalations, gateThreshold: policy.gate.threshold, budgetUsd: request.budgetUsd };
      // A learned decision depends on the policy and on the artefact that was trained for it.
      const policyVersion = decision.policyVersion === policy.version ? policy.version : `${policy.version}+${decision.policyVersion}`;
      return routePlan(escalationPlan(deps.catalog.models, bounds), decision, features, policyVersion);
    },

    async callModel({ request, modelId }: CallModelInput): Promise<ModelResult> {
      const model = modelSpec(modelId);
      const provider = deps.providers[model.provider];
      if (!provider) throw ApplicationFailure.nonRetryable(`no provider "${model.provider}" is configured for model "${model.id}"`, FailureType.UnknownModel);
      const features = extractFeatures(request);
      try {
        const completion = await withHeartbeat(deps.heartbeatIntervalMs ?? 5_000, (signal) =>
          provider.complete({
            requestId: request.requestId,
            attempt: Context.current().info.attempt,
            model,
            prompt: request.prompt,
            history: request.history,
            taskType: request.taskType,
            domain: request.domain,
            expectedOutputTokens: features.expectedOutputTokens,
            ...(request.outputSchema ? { outputSchema: request.outputSchema } : {}),
            signal,
          }),
        );
        return {
          model: model.id,
          provider: provider.name,
          text: completion.text,
          inputTokens: completion.inputTokens,
          outputTokens: completion.outputTokens,
          costUsd: completion.recordedCostUsd ?? priceTokens(model, completion.inputTokens, completion.outputTokens),
          latencyMs: completion.latencyMs,
          origin: completion.origin,
          ...(completion.recordedQuality !== undefined ? { recordedQuality: completion.recordedQuality } : {}),
        };
      } catch (err) {
        if (err instanceof ProviderError) throw toActivityFailure(err, model.id);
        throw err;
      }
    },

    async evaluateAnswer({ request, result, threshold }: EvaluateInput): Promise<QualityVerdict> {
      // Read here rather than carried by the workflow: what to do without a judge is an operational choice.
      const onJudgeUnavailable = deps.policies.get(request.policyId)?.gate.onJudgeUnavailable;
      try {
        return await withHeartbeat(deps.heartbeatIntervalMs ?? 5_000, (signal) => deps.gate.evaluate(request, result, threshold, signal, onJudgeUnavailable));
      } catch (err) {
        // A judge is a model call like any other and fails the same ways.
        if (err instanceof ProviderError) throw toActivityFailure(err, 'quality judge');
        if (err instanceof RecordedVerdictMissingError) throw ApplicationFailure.nonRetryable(err.message, FailureType.InvalidRequest);
        throw err;
      }
    },

    async recordDecision(log: DecisionLog): Promise<void> {
      await deps.decisionLog?.record(log);
    },

    ...createBanditActivities({ temporal: deps.temporal, policies: deps.policies, ladder }),
  };
}

export type RouterActivities = ReturnType<typeof createActivities>;
