import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Catalog, ModelSpec } from '../domain/catalog';
import { FailureType } from '../domain/failures';
import type { ClassifierPolicy, RoutingPolicy } from '../domain/policy';
import { RouteRequestSchema, type RouteRequest } from '../domain/request';
import type { DecisionLog, DecisionLogSink, ModelResult, QualityVerdict, RequestFeatures, RoutingDecision } from '../domain/results';
import { parseOrThrow, ValidationError } from '../domain/validation';
import type { QualityGate } from '../evaluators/gate';
import { RecordedVerdictMissingError } from '../evaluators/recorded';
import { ProviderError, type ModelProvider } from '../providers/types';
import { priceTokens } from '../domain/cost';
import { extractFeatures } from '../routing/features';
import { bestModel, escalationLadder } from '../routing/ladder';
import type { RoutePlan } from '../routing/plan';
import { routeByClassifier } from '../routing/classifier/decide';
import { routeByRules } from '../routing/ruleStrategy';
import { ArtefactCache } from './classifierArtefacts';


export interface ActivityDeps {
  catalog: Catalog;
  policies: ReadonlyMap<string, RoutingPolicy>;
  /** By provider name, as ModelSpec.provider names them. */
  providers: Readonly<Record<string, ModelProvider>>;
  gate: QualityGate;
  decisionLog?: DecisionLogSink;
  /** How often a long model call reports liveness to Temporal. */
  heartbeatIntervalMs?: number;
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

/** Maps a provider's failure onto Temporal's retry semantics. */
export function toActivityFailure(err: ProviderError, model: string): ApplicationFailure {
  const message = `${model}: ${err.message}`;
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
  const best = bestModel(ladder);
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

  const artefacts = new ArtefactCache(deps.catalog.models);
  function routeByClassifierPolicy(policy: ClassifierPolicy, request: RouteRequest, features: RequestFeatures): RoutingDecision {
    let artefact;
    try {
      artefact = artefacts.get(policy.classifier.artefactPath);
    } catch (err) {
      // A missing, broken or mismatched artefact is configuration: retrying the request cannot fix it.
      throw ApplicationFailure.nonRetryable(`policy "${policy.id}": ${(err as Error).message}`, FailureType.UnknownPolicy);
    }
    const { lambda, judgeCostRatio } = policy.classifier;
    return routeByClassifier(artefact, ladder, request, features, {
      ...(lambda !== undefined ? { lambda } : {}),
      ...(judgeCostRatio !== undefined ? { judgeCostRatio } : {}),
    });
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
      const decision = policy.strategy === 'rules' ? routeByRules(policy, ladder, request, features) : routeByClassifierPolicy(policy, request, features);
      return {
        decision,
        features,
        ladder,
        bestModel: best.id,
        maxEscalations: policy.maxEscalations,
        gateThreshold: policy.gate.threshold,
        // A classifier decision depends on the policy and on the artefact that was trained for it.
        policyVersion: decision.policyVersion === policy.version ? policy.version : `${policy.version}+${decision.policyVersion}`,
        ...(request.budgetUsd !== undefined ? { budgetUsd: request.budgetUsd } : {}),
      };
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
      try {
        return await withHeartbeat(deps.heartbeatIntervalMs ?? 5_000, (signal) => deps.gate.evaluate(request, result, threshold, signal));
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
  };
}

export type RouterActivities = ReturnType<typeof createActivities>;
