import {
  ActivityFailure,
  ApplicationFailure,
  condition,
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
  type RetryPolicy,
} from '@temporalio/workflow';
import type { RouterActivities } from '../activities';
import { FailureType, NON_RETRYABLE_FAILURES } from '../domain/failures';
import { LOCAL_QUICK_STEPS_MEMO } from '../domain/workflowIds';
import type { RouteRequest, RouteRequestInput } from '../domain/request';
import type { Attempt, DecisionLog, ModelResult } from '../domain/results';
import { addPossiblyBilled, buildDecisionLog, keptAttemptIndex, learningOutcome } from '../routing/decisionLog';
import { nextStep, type NextStep } from '../routing/escalation';
import type { Rung } from '../routing/ladder';
import { possiblyBilledOf } from './billing';
import { CostUsd, Escalated, FinalModel, QualityScore, RoutedModel, RoutingStrategy } from './searchAttributes';

/**
 * Early return: the caller's update-with-start waits on this and gets the decision log as soon as the kept answer
 * is known, while the row and the bandit's outcome are written after it. Fails when no model answered.
 */
export const answerUpdate = defineUpdate<DecisionLog>('answer');

const retry: RetryPolicy = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURES] };

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

// Paid calls heartbeat every second: a worker that dies mid-call is noticed within this, not after the call's whole
// start-to-close timeout, and its call retried on a live worker (and recorded as possibly billed).
const HEARTBEAT_TIMEOUT = '5s';

// The judge is a model call too: it heartbeats, so cancellation reaches it and a dead worker is noticed early.
const EVALUATE_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '60s',
  scheduleToCloseTimeout: '5m',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { ...retry, maximumAttempts: 5 },
};
const { evaluateAnswer } = proxyActivities<RouterActivities>(EVALUATE_OPTIONS);
// Per-call options (the model's own timeouts and a summary) come from modelCallOptions.
const { callModel } = proxyActivities<RouterActivities>({ startToCloseTimeout: '60s' });

function modelCallOptions(rung: Rung, summary: string): ActivityOptions {
  return {
    startToCloseTimeout: rung.timeouts.startToCloseMs,
    scheduleToCloseTimeout: rung.timeouts.scheduleToCloseMs,
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    retry: { ...retry, maximumAttempts: 5 },
    summary,
  };
}

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

  const attempts: Attempt[] = [];
  const answers: (string | undefined)[] = [];
  const callRequest = slim ? modelCallRequest(request) : request;
  for (let step: NextStep | undefined = { model: plan.decision.model, cause: 'routed' }; step; step = nextStep(plan, attempts)) {
    const previous = attempts[attempts.length - 1];
    const why = step.reason
      ? step.reason
      : !previous
      ? plan.decision.reason
      : previous.error
        ? `${previous.model} failed: ${previous.error}`
        : `${previous.model} scored ${previous.verdict?.score} below ${plan.gateThreshold}`;
    const { attempt, answer } = await tryModel(callRequest, request, plan.ladder, step.model, step.cause, why, plan.gateThreshold, quick === local, plan.liveGradingCallsModel !== false);
    attempts.push(attempt);
    answers.push(answer);
  }

  const keptIndex = keptAttemptIndex(attempts, (i) => answers[i] !== undefined, plan.cascade !== undefined);
  const keptAnswer = answers[keptIndex];
  if (keptAnswer === undefined) {
    if (slim) upsertSearchAttributes(routedAttributes);
    throw ApplicationFailure.nonRetryable(
      `no model answered request ${request.requestId}: ${attempts.map((a) => `${a.model}: ${a.error}`).join('; ')}`,
      FailureType.AllModelsFailed,
    );
  }
  const final = { attempt: attempts[keptIndex]!, answer: keptAnswer };
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
  upsertSearchAttributes([
    ...(slim ? routedAttributes : []),
    { key: FinalModel, value: log.finalModel },
    { key: Escalated, value: log.wasEscalated },
    { key: QualityScore, value: log.qualityScore },
    { key: CostUsd, value: log.costUsd },
  ]);
  return log;
}

/**
 * What a model call needs of the request: its content and the fields that shape the call. Who asked (tenant,
 * policy, tier, budget) stays in the workflow's input, not copied into every call's history event.
 */
function modelCallRequest(request: RouteRequest): RouteRequestInput {
  const { tenant: _t, policyId: _p, customerTier: _c, timeSensitivity: _s, budgetUsd: _b, history, ...call } = request;
  return history.length > 0 ? { ...call, history } : call;
}

/** One rung: call the model, then the gate. A call that fails for good (after retries) is an attempt too. */
async function tryModel(
  callRequest: RouteRequestInput,
  request: RouteRequest,
  ladder: readonly Rung[],
  model: string,
  cause: Attempt['cause'],
  why: string,
  threshold: number,
  quickGate: boolean,
  liveGradingCallsModel: boolean,
): Promise<{ attempt: Attempt; answer?: string }> {
  const rung = ladder.find((r) => r.id === model);
  if (!rung) throw ApplicationFailure.nonRetryable(`model "${model}" is not on the plan's ladder`, FailureType.UnknownModel);
  let result: ModelResult;
  try {
    result = await callModel.executeWithOptions(modelCallOptions(rung, `${cause}: ${model} — ${why}`.slice(0, 200)), [
      { request: callRequest, modelId: model },
    ]);
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    const possiblyBilled = possiblyBilledOf(err);
    return {
      attempt: { model, cause, inputTokens: 0, outputTokens: 0, costUsd: 0, latencyMs: 0, error: failureMessage(err), ...(possiblyBilled && { possiblyBilled }) },
    };
  }
  const usage = pickUsage(result);
  try {
    // A recorded verdict (simulated, replayed answers) or a validators-only gate calls no model: a quick step. A
    // live answer graded by the paid judge, which heartbeats and can be cancelled, is a regular activity.
    const verdict =
      quickGate && (result.origin !== 'live' || !liveGradingCallsModel)
        ? await local.evaluateAnswer({ request, result, threshold })
        : await evaluateAnswer.executeWithOptions({ ...EVALUATE_OPTIONS, summary: `quality gate for ${model} (threshold ${threshold})` }, [{ request, result, threshold }]);
    const possiblyBilled = addPossiblyBilled(result.possiblyBilled, verdict.possiblyBilled);
    return { attempt: { model, cause, ...usage, verdict, ...(possiblyBilled && { possiblyBilled }) }, answer: result.text };
  } catch (err) {
    // The answer was paid for; an unavailable gate means it cannot be trusted, so the ladder goes on.
    if (!(err instanceof ActivityFailure)) throw err;
    const possiblyBilled = addPossiblyBilled(result.possiblyBilled, possiblyBilledOf(err));
    return { attempt: { model, cause, ...usage, error: `quality gate: ${failureMessage(err)}`, ...(possiblyBilled && { possiblyBilled }) }, answer: result.text };
  }
}

function pickUsage(result: ModelResult): Pick<Attempt, 'inputTokens' | 'outputTokens' | 'costUsd' | 'latencyMs' | 'origin'> {
  const { inputTokens, outputTokens, costUsd, latencyMs, origin } = result;
  return { inputTokens, outputTokens, costUsd, latencyMs, origin };
}
