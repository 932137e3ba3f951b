import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowCancellationType,
  ParentClosePolicy,
  startChild,
  condition,
  isCancellation,
  defineUpdate,
  proxyActivities,
  proxyLocalActivities,
  upsertSearchAttributes,
  workflowInfo,
  log as wfLog,
  patched,
  setHandler,
  sleep,
  TemporalFailure,
  type ActivityOptions,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { RouterActivities } from '../activities';
import { FailureType } from '../domain/failures';
import { LOCAL_QUICK_STEPS_MEMO } from '../domain/workflowIds';
import type { RouteRequest, RouteRequestInput } from '../domain/request';
import type { Attempt, DecisionLog, ModelResult } from '../domain/results';
import { addPossiblyBilled, buildDecisionLog, keptAttemptIndex, learningOutcome } from '../routing/decisionLog';
import { firstStep, nextStep, type NextStep } from '../routing/escalation';
import { shouldShadow } from '../routing/shadow';
import type { Rung } from '../routing/ladder';
import type { RoutePlan } from '../routing/plan';
import { EVALUATE_OPTIONS, modelCallOptions, retry } from './activityOptions';
import { cancelledCallOf, possiblyBilledOf } from './billing';
import type { shadowEvaluation, ShadowEvaluationInput } from './shadowEvaluation';
import { CostUsd, Escalated, FinalModel, QualityScore, RoutedModel, RoutingStrategy, Speculative } from './searchAttributes';

/**
 * Early return: the caller's update-with-start waits on this and gets the decision log as soon as the kept answer
 * is known, while the row and the bandit's outcome are written after it. Fails when no model answered.
 */
export const answerUpdate = defineUpdate<DecisionLog>('answer');

const SHORT_STEP: ActivityOptions = { startToCloseTimeout: '10s', scheduleToCloseTimeout: '2m', retry: { ...retry, maximumAttempts: 5 } };
const PLAN_OPTIONS: ActivityOptions = { ...SHORT_STEP, summary: 'route: request features + routing policy' };
// The answer is already paid for: keep trying to write its row for a while rather than fail the request.
const RECORD_OPTIONS: ActivityOptions = { startToCloseTimeout: '10s', scheduleToCloseTimeout: '15m', retry: { ...retry, maximumInterval: '1m' }, summary: 'record: write the decision log row' };
const LEARN_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '10s',
  scheduleToCloseTimeout: '1m',
  retry: { ...retry, maximumAttempts: 5 },
  summary: 'learn: send the outcome to the bandit state (signal-with-start)',
};

// Signalling another workflow is a call to the server: always a regular activity.
const { reportBanditOutcome } = proxyActivities<RouterActivities>(LEARN_OPTIONS);

/**
 * The quick steps, as regular activities (histories from before the 'local-quick-steps' patch, a starter that
 * encrypts payloads, or the policy's choice)...
 */
const regular = {
  planRoute: proxyActivities<RouterActivities>(PLAN_OPTIONS).planRoute,
  recordDecision: proxyActivities<RouterActivities>(RECORD_OPTIONS).recordDecision,
};
/**
 * ...or as local activities: run in the worker that runs the workflow, with no task-queue round trip and only their
 * result in history. Safe for steps that are short, pay for nothing and are idempotent (planning is seeded by the
 * request, rows are written once by requestId).
 */
const local = {
  planRoute: proxyLocalActivities<RouterActivities>(PLAN_OPTIONS).planRoute,
  recordDecision: proxyLocalActivities<RouterActivities>(RECORD_OPTIONS).recordDecision,
  evaluateAnswer: proxyLocalActivities<RouterActivities>(SHORT_STEP).evaluateAnswer,
};

const { evaluateAnswer } = proxyActivities<RouterActivities>(EVALUATE_OPTIONS);
// Per-call options (the model's own timeouts and a summary) come from modelCallOptions.
const { callModel } = proxyActivities<RouterActivities>({ startToCloseTimeout: '60s' });

function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  if (cause instanceof ApplicationFailure) return `${cause.type ?? 'Error'}: ${cause.message}`;
  if (cause) return `${cause.name}: ${cause.message}`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * route → execute → evaluate → escalate. The gate's verdict decides whether to climb the ladder: next stronger
 * tier at most maxEscalations times, then straight to the best model, whose answer is kept whatever its verdict.
 */
export async function routeRequest(request: RouteRequest): Promise<DecisionLog> {
  let answer: { log: DecisionLog } | { failure: TemporalFailure } | undefined;
  let answerAwaited = false;
  setHandler(answerUpdate, async () => {
    answerAwaited = true;
    await condition(() => answer !== undefined);
    if ('failure' in answer!) throw answer.failure;
    return answer!.log;
  });
  try {
    return await routeAndRecord(request, (log) => {
      answer = { log };
      return answerAwaited;
    });
  } catch (err) {
    // A waiting caller hears of the failure (an unknown policy, every model failed) from the update itself.
    if (err instanceof TemporalFailure) answer ??= { failure: err };
    throw err;
  }
}

/** `answered` hands the log to a waiting caller and says whether one waits. */
async function routeAndRecord(request: RouteRequest, answered: (log: DecisionLog) => boolean): Promise<DecisionLog> {
  // New runs take the slim shape (one search-attribute upsert, model calls without the request's routing fields);
  // histories written before it replay the shape they were written with.
  const slim = patched('slim-steps');
  // Without the starter's leave (an encrypting client, an older one) every step stays a regular activity.
  const localPatch = (slim || patched('local-quick-steps')) && workflowInfo().memo?.[LOCAL_QUICK_STEPS_MEMO] === true;
  const plan = await (localPatch ? local : regular).planRoute(request);
  const quick = localPatch && plan.quickSteps !== 'activity' ? local : regular;
  const routedAttributes = [
    { key: RoutedModel, value: plan.decision.model },
    { key: RoutingStrategy, value: plan.decision.strategy },
  ];
  if (!slim) upsertSearchAttributes(routedAttributes);

  // A plan that races: histories from before racing existed (or whose plan came from a newer worker) run the ladder.
  const race = plan.speculative && patched('speculative-race') ? plan.speculative : undefined;
  const raceAttributes = race ? [{ key: Speculative, value: true }] : [];
  const attempts: Attempt[] = [];
  const answers: (ModelResult | undefined)[] = [];
  const step: StepContext = {
    callRequest: slim ? modelCallRequest(request) : request,
    request,
    ladder: plan.ladder,
    threshold: plan.gateThreshold,
    quickGate: quick === local,
    liveGradingCallsModel: plan.liveGradingCallsModel !== false,
  };
  for (let next: NextStep | undefined = firstStep(race ? plan : { decision: plan.decision }); next; next = nextStep(plan, attempts)) {
    const previous = attempts[attempts.length - 1];
    const why = next.reason
      ? next.reason
      : !previous
      ? plan.decision.reason
      : previous.error
        ? `${previous.model} failed: ${previous.error}`
        : `${previous.model} scored ${previous.verdict?.score} below ${plan.gateThreshold}`;
    const tried = next.partner && race ? await raceModels(step, next, next.partner, race, why) : [await tryModel(step, next, why)];
    for (const { attempt, result } of tried) {
      attempts.push(attempt);
      answers.push(result);
    }
  }

  const keptIndex = keptAttemptIndex(attempts, (i) => answers[i] !== undefined, plan.cascade !== undefined);
  const keptAnswer = answers[keptIndex];
  if (keptAnswer === undefined) {
    if (slim) upsertSearchAttributes([...routedAttributes, ...raceAttributes]);
    throw ApplicationFailure.nonRetryable(
      `no model answered request ${request.requestId}: ${attempts.map((a) => `${a.model}: ${a.error}`).join('; ')}`,
      FailureType.AllModelsFailed,
    );
  }
  const final = { attempt: attempts[keptIndex]!, answer: keptAnswer.text };
  const log = buildDecisionLog({
    request,
    plan,
    attempts,
    final,
    workflowId: workflowInfo().workflowId,
    timestamp: new Date().toISOString(),
  });
  // A waiting caller's answer leaves when this workflow task ends; the shortest timer ends it here, so the row and
  // the outcome below are written after the caller has the answer rather than before.
  if (answered(log)) await sleep(1);
  try {
    await quick.recordDecision(log, request);
  } catch (err) {
    // The decision log is still the workflow's result, kept in Temporal's history; the row can be written later.
    if (!(err instanceof ActivityFailure)) throw err;
    wfLog.error('decision log row not written', { requestId: request.requestId, error: failureMessage(err) });
  }
  const outcome = learningOutcome(log);
  // Only decisions of a learning strategy send an outcome; the marker keeps older histories replaying.
  if (outcome && patched('bandit-outcome')) {
    try {
      await reportBanditOutcome({ policyId: request.policyId, outcome });
    } catch (err) {
      // Learning is best effort: the answer stands whether or not the bandit heard about it.
      if (!(err instanceof ActivityFailure)) throw err;
      wfLog.warn('bandit outcome not delivered', { requestId: request.requestId, error: failureMessage(err) });
    }
  }
  // Only a sampled request of a shadowing policy reaches the marker, so every other run's commands stay as they were.
  const bestRung = plan.ladder.find((r) => r.id === log.bestModel);
  if (bestRung && shouldShadow(plan.shadow, request, { kept: log.finalModel, best: log.bestModel }) && patched('shadow-evaluation')) {
    await startShadow({
      request: modelCallRequest(request),
      requestId: request.requestId,
      tenant: log.tenant,
      policyId: log.policyId,
      strategy: log.strategy,
      routed: keptAnswer,
      best: bestRung,
      ...bestAnswerOf(answers, log.bestModel),
      ...(plan.shadow?.judgeModel !== undefined && { judgeModel: plan.shadow.judgeModel }),
    });
  }
  upsertSearchAttributes([
    ...(slim ? routedAttributes : []),
    ...raceAttributes,
    { key: FinalModel, value: log.finalModel },
    { key: Escalated, value: log.wasEscalated },
    { key: QualityScore, value: log.qualityScore },
    { key: CostUsd, value: log.costUsd },
  ]);
  return log;
}

/** An answer the best model already gave during the request (a race's partner that was not kept). */
function bestAnswerOf(answers: readonly (ModelResult | undefined)[], bestModel: string): { bestAnswer?: ModelResult } {
  const bestAnswer = answers.find((a) => a?.model === bestModel);
  return bestAnswer ? { bestAnswer } : {};
}

/**
 * Starts the shadow evaluation as an abandoned child: it outlives this run, its failure never reaches the request,
 * and only its start is awaited (a parent that closes before its child has started would lose it).
 */
async function startShadow(input: ShadowEvaluationInput): Promise<void> {
  const workflowId = `shadow-${workflowInfo().workflowId}`;
  try {
    await startChild<typeof shadowEvaluation>('shadowEvaluation', {
      workflowId,
      args: [input],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      cancellationType: ChildWorkflowCancellationType.ABANDON,
      staticSummary: `shadow: ${input.best.id} beside ${input.routed.model} for request ${input.requestId}`,
    });
  } catch (err) {
    // A shadow of this run already exists (a reset re-ran it): the request's answer stands either way.
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    wfLog.warn('shadow evaluation already started', { requestId: input.requestId, workflowId });
  }
}

/**
 * What a model call needs of the request: its content and the fields that shape the call. Who asked (tenant,
 * policy, tier, budget) stays in the workflow's input, not copied into every call's history event.
 */
function modelCallRequest(request: RouteRequest): RouteRequestInput {
  const { tenant: _t, policyId: _p, customerTier: _c, timeSensitivity: _s, budgetUsd: _b, history, ...call } = request;
  return history.length > 0 ? { ...call, history } : call;
}

/** What every model call of one request shares. */
interface StepContext {
  callRequest: RouteRequestInput;
  request: RouteRequest;
  ladder: readonly Rung[];
  threshold: number;
  quickGate: boolean;
  liveGradingCallsModel: boolean;
}

interface Tried {
  attempt: Attempt;
  /** The model's answer, when it gave one. */
  result?: ModelResult;
}

function rungOf(ladder: readonly Rung[], model: string): Rung {
  const rung = ladder.find((r) => r.id === model);
  if (!rung) throw ApplicationFailure.nonRetryable(`model "${model}" is not on the plan's ladder`, FailureType.UnknownModel);
  return rung;
}

/** A call that failed for good (after retries) is an attempt too. */
function failedAttempt(model: string, cause: Attempt['cause'], err: ActivityFailure): Attempt {
  const possiblyBilled = possiblyBilledOf(err);
  return { model, cause, inputTokens: 0, outputTokens: 0, costUsd: 0, latencyMs: 0, error: failureMessage(err), ...(possiblyBilled && { possiblyBilled }) };
}

/** One rung: call the model, then the gate. */
async function tryModel(step: StepContext, { model, cause }: Pick<NextStep, 'model' | 'cause'>, why: string): Promise<Tried> {
  const rung = rungOf(step.ladder, model);
  let result: ModelResult;
  try {
    result = await callModel.executeWithOptions(modelCallOptions(rung, `${cause}: ${model} — ${why}`.slice(0, 200)), [{ request: step.callRequest, modelId: model }]);
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    return { attempt: failedAttempt(model, cause, err) };
  }
  return gateAnswer(step, model, cause, result);
}

/** The gate's verdict on one answer. */
async function gateAnswer(step: StepContext, model: string, cause: Attempt['cause'], result: ModelResult): Promise<Tried> {
  const { request, threshold } = step;
  const usage = pickUsage(result);
  try {
    // A recorded verdict (simulated, replayed answers) or a validators-only gate calls no model: a quick step. A
    // live answer graded by the paid judge, which heartbeats and can be cancelled, is a regular activity.
    const verdict =
      step.quickGate && (result.origin !== 'live' || !step.liveGradingCallsModel)
        ? await local.evaluateAnswer({ request, result, threshold })
        : await evaluateAnswer.executeWithOptions({ ...EVALUATE_OPTIONS, summary: `quality gate for ${model} (threshold ${threshold})` }, [{ request, result, threshold }]);
    const possiblyBilled = addPossiblyBilled(result.possiblyBilled, verdict.possiblyBilled);
    return { attempt: { model, cause, ...usage, verdict, ...(possiblyBilled && { possiblyBilled }) }, result };
  } catch (err) {
    // The answer was paid for; an unavailable gate means it cannot be trusted, so the ladder goes on.
    if (!(err instanceof ActivityFailure)) throw err;
    const possiblyBilled = addPossiblyBilled(result.possiblyBilled, possiblyBilledOf(err));
    return { attempt: { model, cause, ...usage, error: `quality gate: ${failureMessage(err)}`, ...(possiblyBilled && { possiblyBilled }) }, result };
  }
}

/**
 * A step with a partner: both calls start at once in one CancellationScope (CONVENTIONS.md, "Racing two models").
 * The answer looked at first (the routed one; with prefer "latency" whichever arrives first) is gated as soon as it
 * arrives. If it passes, the scope is cancelled and the other call aborted; if not, the other answer, already under
 * way, is gated with no second round trip. Both calls are settled before the step ends and each is an attempt: a
 * cancelled one with what it reported it can have cost, an answer that arrived but was not needed with its price.
 */
async function raceModels(step: StepContext, routed: Pick<NextStep, 'model' | 'cause'>, partner: string, race: NonNullable<RoutePlan['speculative']>, why: string): Promise<Tried[]> {
  const entrants = [
    { model: routed.model, cause: routed.cause, summary: `${routed.cause}: ${routed.model} — ${why}` },
    { model: partner, cause: 'speculative' as const, summary: `speculative: ${race.reason}` },
  ];
  const scope = new CancellationScope();
  const calls = entrants.map(({ model, summary }) =>
    scope.run(() =>
      callModel.executeWithOptions(
        // The cancelled call's report of what it cost arrives with its cancellation, so the workflow waits for it.
        { ...modelCallOptions(rungOf(step.ladder, model), summary.slice(0, 200)), cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED },
        [{ request: step.callRequest, modelId: model, raced: true }],
      ),
    ),
  );
  // Settled as they end, so the loser's rejection is always observed.
  const settled = calls.map((call) => call.then((value) => ({ value }), (reason: unknown) => ({ reason })));
  const first = race.prefer === 'latency' ? await Promise.race(settled.map((s, i) => s.then(() => i))) : 0;
  const tried: (Tried | undefined)[] = [];
  for (const i of [first, 1 - first]) {
    const { model, cause } = entrants[i]!;
    const outcome = await settled[i]!;
    if ('reason' in outcome) {
      if (!(outcome.reason instanceof ActivityFailure)) throw outcome.reason;
      tried[i] = { attempt: { ...failedAttempt(model, cause, outcome.reason), status: 'failed' } };
      continue;
    }
    const gated = await gateAnswer(step, model, cause, outcome.value);
    tried[i] = { ...gated, attempt: { ...gated.attempt, status: 'completed' } };
    if (gated.attempt.verdict?.passed) {
      scope.cancel();
      break;
    }
  }
  const outcomes = await Promise.all(settled);
  return entrants.map(({ model, cause }, i) => tried[i] ?? unneededAttempt(model, cause, outcomes[i]!));
}

/** The other call of a race that a passing answer made unneeded: cancelled, or it had already answered (and cost). */
function unneededAttempt(model: string, cause: Attempt['cause'], outcome: { value: ModelResult } | { reason: unknown }): Tried {
  if ('value' in outcome) return { attempt: { model, cause, status: 'completed', ...pickUsage(outcome.value), ...(outcome.value.possiblyBilled && { possiblyBilled: outcome.value.possiblyBilled }) }, result: outcome.value };
  if (!(outcome.reason instanceof ActivityFailure)) throw outcome.reason;
  if (!isCancellation(outcome.reason)) return { attempt: { ...failedAttempt(model, cause, outcome.reason), status: 'failed' } };
  const report = cancelledCallOf(outcome.reason);
  return {
    attempt: {
      model,
      cause,
      status: 'cancelled',
      inputTokens: report?.inputTokens ?? 0,
      outputTokens: report?.outputTokens ?? 0,
      costUsd: report?.costUsd ?? 0,
      latencyMs: report?.latencyMs ?? 0,
      ...(report?.estimated && { costEstimated: true }),
      ...(report?.possiblyBilled && { possiblyBilled: report.possiblyBilled }),
    },
  };
}

function pickUsage(result: ModelResult): Pick<Attempt, 'inputTokens' | 'outputTokens' | 'costUsd' | 'latencyMs' | 'origin'> {
  const { inputTokens, outputTokens, costUsd, latencyMs, origin } = result;
  return { inputTokens, outputTokens, costUsd, latencyMs, origin };
}
