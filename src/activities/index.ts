import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { Catalog, ModelSpec } from '../domain/catalog';
import { FailureType } from '../domain/failures';
import { redactSecrets } from '../domain/redact';
import { RouteRequestSchema, type RouteRequest, type RouteRequestInput } from '../domain/request';
import { ShadowSampleSchema, type DecisionLog, type DecisionLogSink, type ModelResult, type PossiblyBilled, type QualityVerdict, type RoutingDecision, type ShadowSample } from '../domain/results';
import { parseOrThrow, ValidationError } from '../domain/validation';
import type { QualityGate } from '../evaluators/gate';
import { JudgeReplyError } from '../evaluators/judge';
import { PairwiseJudge } from '../evaluators/pairwiseJudge';
import { RecordedVerdictMissingError } from '../evaluators/recorded';
import { ProviderError, type ModelProvider } from '../providers/types';
import { callCeilingUsd, estimateTokens, priceTokens } from '../domain/cost';
import { extractFeatures } from '../routing/features';
import { unitHash } from '../routing/hash';
import { escalationLadder } from '../routing/ladder';
import type { CascadePlan } from '../routing/cascade';
import { escalationPlan, pinnedRoutePlan, routePlan, type EscalationPlan, type RoutePlan } from '../routing/plan';
import { speculativeRace } from '../routing/speculative';
import { seededRandom } from '../routing/random';
import { shuffledPair } from '../routing/shadow';
import { cascadeProblem, strategyOf, type RoutingPolicy } from '../routing/strategies/registry';
import type { RoutingStrategy, StrategyEnv } from '../routing/strategies/types';
import { BanditStateCache, createBanditActivities, type TemporalAccess } from './bandit';
import { createBudgetActivities } from './budget';
import { idempotencyKey, possiblyBilledAttempts, withHeartbeat, type CancelledCall } from './billing';
import { fileStrategyEnv } from './fileCache';
import { ContentMissingError, sha256Hex, type ContentStore } from '../claimCheck/contentStore';
import { checkOut } from '../claimCheck/request';
import type { ModelCallOutcome, RouterMetrics } from './metrics';


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
  /** Where claim-checked prompts are (src/claimCheck); the client that started the request must share it. */
  contentStore?: ContentStore;
  /** Dashboards' counters and latencies (src/worker/prometheus.ts); none without it. */
  metrics?: RouterMetrics;
}

/** Well inside the workflows' heartbeat timeout, so one late beat does not fail a live call. */
const HEARTBEAT_INTERVAL_MS = 1_000;
/** A raced call learns of its cancellation from a heartbeat's answer; the worker sends beats this often too. */
export const RACED_HEARTBEAT_INTERVAL_MS = 100;

export interface CallModelInput {
  /** Parsed again here: the workflow sends only the fields a call needs, the rest take their defaults. */
  request: RouteRequestInput;
  modelId: string;
  /** Raced beside another call (speculative routing): it may be cancelled, and must hear so quickly. */
  raced?: boolean;
}

export interface ShadowJudgeInput {
  request: RouteRequestInput;
  /** The answer the request kept, and the best model's. */
  routed: ModelResult;
  best: ModelResult;
  /** A catalog model that judges both answers in one call; absent: the gate's scorer, one answer at a time. */
  judgeModel?: string;
}

/** The blind judge's scores, mapped back to the answers they belong to. */
export interface ShadowJudgement {
  routedScore: number;
  bestScore: number;
  routedShownFirst: boolean;
  /** The judge model's id, or the gate's evaluator name. */
  judge: string;
  costUsd: number;
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

/** The workflow reads `possiblyBilled` from a failed call's details (src/workflows/billing.ts). */
function withPossiblyBilled(failure: ApplicationFailure, possiblyBilled: PossiblyBilled | undefined): ApplicationFailure {
  if (!possiblyBilled) return failure;
  return ApplicationFailure.create({
    message: failure.message,
    type: failure.type ?? undefined,
    nonRetryable: failure.nonRetryable ?? undefined,
    details: [...(failure.details ?? []), { possiblyBilled }],
    ...(failure.nextRetryDelay != null ? { nextRetryDelay: failure.nextRetryDelay } : {}),
  });
}

export function createActivities(deps: ActivityDeps) {
  const ladder = escalationLadder(deps.catalog.models);
  const modelsById = new Map<string, ModelSpec>(deps.catalog.models.map((m) => [m.id, m]));

  function modelSpec(id: string): ModelSpec {
    const spec = modelsById.get(id);
    if (!spec) throw ApplicationFailure.nonRetryable(`model "${id}" is not in the catalog (${[...modelsById.keys()].join(', ')})`, FailureType.UnknownModel);
    return spec;
  }

  /**
   * Re-validates at the activity edge (histories outlive deployments and may carry older shapes), and puts a
   * claim-checked prompt back in place.
   */
  async function validRequest(request: unknown): Promise<RouteRequest> {
    try {
      return await checkOut(parseOrThrow(RouteRequestSchema, request, 'RouteRequest'), deps.contentStore);
    } catch (err) {
      if (err instanceof ValidationError) throw ApplicationFailure.nonRetryable(err.message, FailureType.ValidationError);
      if (err instanceof ContentMissingError) throw ApplicationFailure.nonRetryable(err.message, FailureType.InvalidRequest);
      throw err;
    }
  }

  /** The decision-log row as the policy keeps prompts at rest. */
  function withStoredPrompt(log: DecisionLog, request: RouteRequest): DecisionLog {
    const storage = deps.policies.get(log.policyId)?.storePrompts ?? 'hashed';
    if (storage === 'none') return log;
    return { ...log, prompt: storage === 'plain' ? { storage, text: request.prompt } : { storage, sha256: sha256Hex(request.prompt) } };
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

  async function decide(policy: RoutingPolicy, request: RouteRequest, features: RoutePlan['features']): Promise<{ decision: RoutingDecision; cascade?: CascadePlan }> {
    try {
      // Seeded by the request: a retried activity explores the same way, so its decision does not change.
      const random = seededRandom(Math.floor(unitHash('route', request.requestId) * 2 ** 32));
      const strategy = await strategyFor(policy);
      // One context for both calls: a strategy may reuse what it computed for the decision.
      const context = { request, features, random };
      const decision = strategy.decide(context);
      if (policy.escalation !== 'cascade') return { decision };
      if (!strategy.cascade) throw new ValidationError('routing policy', [{ path: 'escalation', message: cascadeProblem(policy.strategy) ?? 'no cascade' }]);
      return { decision, cascade: strategy.cascade(context) };
    } catch (err) {
      // A missing, broken or mismatched artefact is configuration: retrying the request cannot fix it.
      if (err instanceof ValidationError || (err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw ApplicationFailure.nonRetryable(`policy "${policy.id}": ${(err as Error).message}`, FailureType.UnknownPolicy);
      }
      throw err;
    }
  }

  function speculativeRaceOf(policy: RoutingPolicy, plan: EscalationPlan, decision: RoutingDecision): RoutePlan['speculative'] {
    try {
      return speculativeRace(policy.speculative, plan, decision);
    } catch (err) {
      // A partner missing from the catalog is configuration (start-up checks it too): nothing is called.
      if (err instanceof ValidationError) throw ApplicationFailure.nonRetryable(`policy "${policy.id}": ${err.message}`, FailureType.UnknownPolicy);
      throw err;
    }
  }

  return {
    async planRoute(input: RouteRequest): Promise<RoutePlan> {
      const request = await validRequest(input);
      const policy = deps.policies.get(request.policyId);
      if (!policy) {
        throw ApplicationFailure.nonRetryable(
          `policyId "${request.policyId}" is not configured (known: ${[...deps.policies.keys()].join(', ')})`,
          FailureType.UnknownPolicy,
        );
      }
      const features = extractFeatures(request);
      const bounds = { maxEscalations: policy.maxEscalations, gateThreshold: policy.gate.threshold, budgetUsd: request.budgetUsd };
      if (request.pinnedModel) {
        return { ...pinnedRoutePlan(modelSpec(request.pinnedModel), bounds, features, policy.version), quickSteps: policy.quickSteps, liveGradingCallsModel: deps.gate.callsModelForLiveAnswers };
      }
      const { decision, cascade } = await decide(policy, request, features);
      // A learned decision depends on the policy and on the artefact that was trained for it.
      const policyVersion = decision.policyVersion === policy.version ? policy.version : `${policy.version}+${decision.policyVersion}`;
      const plan = escalationPlan(deps.catalog.models, bounds);
      const speculative = speculativeRaceOf(policy, plan, decision);
      return {
        ...routePlan(plan, decision, features, policyVersion),
        quickSteps: policy.quickSteps,
        liveGradingCallsModel: deps.gate.callsModelForLiveAnswers,
        ...(cascade && { cascade }),
        ...(speculative && { speculative }),
        ...(policy.shadow && { shadow: policy.shadow }),
      };
    },

    async callModel(input: CallModelInput): Promise<ModelResult> {
      const { modelId } = input;
      const request = await validRequest(input.request);
      const model = modelSpec(modelId);
      const provider = deps.providers[model.provider];
      if (!provider) throw ApplicationFailure.nonRetryable(`no provider "${model.provider}" is configured for model "${model.id}"`, FailureType.UnknownModel);
      const features = extractFeatures(request);
      const inputText = [...request.history.map((t) => t.content), request.prompt].join('\n');
      // The most output this call can produce: the provider's cap and the request's, whichever is tighter.
      const outputCap = Math.min(provider.maxOutputTokens ?? Infinity, request.maxOutputTokens ?? Infinity);
      const perCallUsd = provider.bills ? callCeilingUsd(model, inputText, Number.isFinite(outputCap) ? outputCap : features.expectedOutputTokens) : 0;
      const started = performance.now();
      const observe = (outcome: ModelCallOutcome) =>
        deps.metrics?.modelCall({ model: model.id, provider: provider.name, outcome, seconds: (performance.now() - started) / 1000 });
      let streamed: { inputTokens: number; outputTokens: number } | undefined;
      const possiblyBilled = possiblyBilledAttempts(perCallUsd);
      try {
        // A raced call heartbeats more often: the heartbeat's answer is how it hears that it lost.
        const interval = deps.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS;
        const completion = await withHeartbeat(input.raced ? Math.min(interval, RACED_HEARTBEAT_INTERVAL_MS) : interval, perCallUsd, (signal) =>
          provider.complete({
            requestId: request.requestId,
            attempt: Context.current().info.attempt,
            idempotencyKey: idempotencyKey(request.requestId, model.id),
            model,
            prompt: request.prompt,
            history: request.history,
            taskType: request.taskType,
            domain: request.domain,
            expectedOutputTokens: features.expectedOutputTokens,
            ...(request.maxOutputTokens !== undefined && { maxOutputTokens: request.maxOutputTokens }),
            ...(request.outputSchema ? { outputSchema: request.outputSchema } : {}),
            signal,
            onUsage: (usage) => (streamed = usage),
          }),
        );
        observe('completed');
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
          ...(possiblyBilled ? { possiblyBilled } : {}),
        };
      } catch (err) {
        if (Context.current().cancellationSignal.aborted) {
          observe('cancelled');
          // Streamed tokens when the provider reported them; otherwise a non-streaming call, which the provider goes on
          // generating (and bills) after we hang up: the whole expected answer, marked as an estimate.
          const tokens = streamed ?? { inputTokens: estimateTokens(inputText), outputTokens: Math.min(features.expectedOutputTokens, outputCap) };
          const cancelled: CancelledCall = {
            ...tokens,
            costUsd: priceTokens(model, tokens.inputTokens, tokens.outputTokens),
            estimated: streamed === undefined,
            latencyMs: performance.now() - started,
            ...(possiblyBilled && { possiblyBilled }),
          };
          throw new CancelledFailure(`${model.id}: call cancelled`, [{ cancelledCall: cancelled }]);
        }
        observe('failed');
        if (err instanceof ProviderError) deps.metrics?.providerError(err.kind, model.id, provider.name);
        // A provider that timed out on our side may still have produced (and billed) the answer.
        if (err instanceof ProviderError) throw withPossiblyBilled(toActivityFailure(err, model.id), possiblyBilledAttempts(perCallUsd, err.kind === 'timeout'));
        throw err;
      }
    },

    async evaluateAnswer(input: EvaluateInput): Promise<QualityVerdict> {
      const { result, threshold } = input;
      const request = await validRequest(input.request);
      // Read here rather than carried by the workflow: what to do without a judge is an operational choice.
      const onJudgeUnavailable = deps.policies.get(request.policyId)?.gate.onJudgeUnavailable;
      const perCallUsd = deps.gate.paidCallCeilingUsd(request, result);
      try {
        const possiblyBilled = possiblyBilledAttempts(perCallUsd);
        const key = idempotencyKey(request.requestId, 'judge');
        const verdict = await withHeartbeat(deps.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS, perCallUsd, (signal) =>
          deps.gate.evaluate(request, result, threshold, signal, onJudgeUnavailable, key),
        );
        deps.metrics?.verdict(result.model, verdict);
        return possiblyBilled ? { ...verdict, possiblyBilled } : verdict;
      } catch (err) {
        // A judge is a model call like any other and fails the same ways.
        if (err instanceof ProviderError) {
          throw withPossiblyBilled(toActivityFailure(err, 'quality judge'), possiblyBilledAttempts(perCallUsd, err.kind === 'timeout'));
        }
        if (err instanceof RecordedVerdictMissingError) throw ApplicationFailure.nonRetryable(err.message, FailureType.InvalidRequest);
        throw err;
      }
    },

    /**
     * Shadow evaluation's judge: both answers in an order shuffled by the request id (routing/shadow.ts), so the
     * judge cannot learn which is the best model's; its scores are mapped back before they leave.
     */
    async judgeShadowPair(input: ShadowJudgeInput): Promise<ShadowJudgement> {
      const request = await validRequest(input.request);
      const pair = shuffledPair(request.requestId, input.routed, input.best);
      const interval = deps.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS;
      try {
        if (input.judgeModel !== undefined) {
          const model = modelSpec(input.judgeModel);
          const provider = deps.providers[model.provider];
          if (!provider) throw ApplicationFailure.nonRetryable(`no provider "${model.provider}" is configured for shadow judge "${model.id}"`, FailureType.UnknownModel);
          const judge = new PairwiseJudge({ provider, model });
          const texts = [pair.shown[0].text, pair.shown[1].text] as const;
          const judged = await withHeartbeat(interval, judge.paidCallCeilingUsd(request, texts), (signal) =>
            judge.judge(request, texts, signal, idempotencyKey(request.requestId, 'shadow-judge')),
          );
          const scores = pair.unshuffle(judged.scores);
          return { routedScore: scores.routed, bestScore: scores.best, routedShownFirst: pair.routedShownFirst, judge: model.id, costUsd: judged.costUsd };
        }
        // The gate's scorer sees one answer at a time, still in the shuffled order; a judge that cannot be reached or
        // read fails the activity (and is retried), since a stand-in score would bias the estimate.
        const scored: Awaited<ReturnType<QualityGate['score']>>[] = [];
        for (const [i, result] of pair.shown.entries()) {
          scored.push(
            await withHeartbeat(interval, deps.gate.paidCallCeilingUsd(request, result), (signal) =>
              deps.gate.score(request, result, signal, idempotencyKey(request.requestId, `shadow-judge-${i}`)),
            ),
          );
        }
        const scores = pair.unshuffle([scored[0]!.score, scored[1]!.score]);
        return {
          routedScore: scores.routed,
          bestScore: scores.best,
          routedShownFirst: pair.routedShownFirst,
          judge: deps.gate.name,
          costUsd: scored[0]!.costUsd + scored[1]!.costUsd,
        };
      } catch (err) {
        if (err instanceof ProviderError) throw toActivityFailure(err, 'shadow judge');
        if (err instanceof JudgeReplyError) throw ApplicationFailure.retryable(redactSecrets(err.message), FailureType.MalformedResponse);
        if (err instanceof RecordedVerdictMissingError) throw ApplicationFailure.nonRetryable(err.message, FailureType.InvalidRequest);
        throw err;
      }
    },

    /** Written once per requestId by the sink; a worker without a sink that takes samples keeps them in history only. */
    async recordShadowSample(input: ShadowSample): Promise<void> {
      let sample: ShadowSample;
      try {
        sample = parseOrThrow(ShadowSampleSchema, input, 'ShadowSample');
      } catch (err) {
        if (err instanceof ValidationError) throw ApplicationFailure.nonRetryable(err.message, FailureType.ValidationError);
        throw err;
      }
      if (deps.decisionLog?.recordShadow) await deps.decisionLog.recordShadow(sample);
      else Context.current().log.warn('shadow sample not written: the decision log takes no shadow samples', { requestId: sample.requestId });
    },

    /** `request` is absent in histories written before prompts were kept at rest. */
    async recordDecision(log: DecisionLog, request?: RouteRequest): Promise<void> {
      const written = await deps.decisionLog?.record(request ? withStoredPrompt(log, await validRequest(request)) : log);
      // false: an earlier attempt of this activity wrote the row (and counted the request) before it was retried.
      if (written !== false) deps.metrics?.requestRecorded(log);
    },

    ...createBanditActivities({ temporal: deps.temporal, policies: deps.policies, ladder }),
    ...createBudgetActivities({ temporal: deps.temporal, modelSpec, providers: deps.providers, gate: deps.gate, validRequest }),
  };
}

export type RouterActivities = ReturnType<typeof createActivities>;
