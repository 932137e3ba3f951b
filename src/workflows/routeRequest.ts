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
import type { BudgetedCall, BudgetReservation } from '../activities/budget';
import { SETTLE_SCHEDULE_TO_CLOSE_MS, type BudgetCaps } from '../budget/ledger';
import { DEFAULT_BUDGETED_MAX_OUTPUT_TOKENS, reservationId, SETTLE_MARGIN_MS } from '../budget/reservations';
import { FailureType } from '../domain/failures';
import { LOCAL_QUICK_STEPS_MEMO } from '../domain/workflowIds';
import type { RouteRequest, RouteRequestInput } from '../domain/request';
import type { Attempt, DecisionLog, ModelResult } from '../domain/results';
import { addPossiblyBilled, buildDecisionLog, keptAttemptIndex, learningOutcome } from '../routing/decisionLog';
import { firstStep, nextStep, type NextStep } from '../routing/escalation';
import { shouldShadow } from '../routing/shadow';
import type { Rung } from '../routing/ladder';
import type { RoutePlan } from '../routing/plan';
import { EVALUATE_OPTIONS, HEARTBEAT_TIMEOUT, modelCallOptions, retry } from './activityOptions';
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

/*
 * Budget steps are updates on the tenant's budget workflow: regular activities too. As local activities they would
 * hold this run's workflow task while the budget workflow, which may need a workflow slot on this very worker, has
 * to answer: with many requests in flight that can starve it.
 */
const { reserveBudget } = proxyActivities<RouterActivities>({
  // A worker queues a busy tenant's updates (src/activities/budget.ts): the wait counts against this. Both budget
  // steps heartbeat while they wait, so a dead worker's are retried within the heartbeat timeout.
  startToCloseTimeout: '30s',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  scheduleToCloseTimeout: '1m',
  retry: { ...retry, maximumAttempts: 10 },
  summary: "budget: reserve the call's worst case",
});
// Money was spent: keep trying for as long as the ledger remembers a settled id (a repeat must find it).
const { settleBudget } = proxyActivities<RouterActivities>({
  startToCloseTimeout: '10s',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  scheduleToCloseTimeout: SETTLE_SCHEDULE_TO_CLOSE_MS,
  retry: { ...retry, maximumInterval: '30s' },
  summary: "budget: settle the call's actual cost",
});
/** EVALUATE_OPTIONS.scheduleToCloseTimeout: how long a judge call can take, for its reservation's TTL. */
const JUDGE_SCHEDULE_TO_CLOSE_MS = 5 * 60_000;

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
  let budgetStop: BudgetStop | undefined;
  // Only a request with a tenant budget reaches the marker: every other run's commands stay as they were.
  const budget = request.tenantBudget && patched('budget-reservations') ? { tenant: request.tenant, caps: request.tenantBudget, calls: 0, settles: [] } : undefined;
  const callRequest = slim ? modelCallRequest(request) : request;
  const step: StepContext = {
    // A budgeted call always has an output cap, sent to the provider: the worst case reserved is then a real bound.
    callRequest: budget ? { ...callRequest, maxOutputTokens: request.maxOutputTokens ?? DEFAULT_BUDGETED_MAX_OUTPUT_TOKENS } : callRequest,
    request,
    ...(budget && { budget }),
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
    const stepResult = next.partner && race ? await raceModels(step, next, next.partner, race, why) : await tryModel(step, next, why);
    for (const { attempt, result } of stepResult.tried) {
      attempts.push(attempt);
      answers.push(result);
    }
    // The budget refused a call: the ladder ends here, with the best answer so far.
    if (stepResult.budgetStop) {
      budgetStop = stepResult.budgetStop;
      break;
    }
  }

  const keptIndex = keptAttemptIndex(attempts, (i) => answers[i] !== undefined, plan.cascade !== undefined);
  const keptAnswer = answers[keptIndex];
  if (keptAnswer === undefined) {
    if (slim) upsertSearchAttributes([...routedAttributes, ...raceAttributes]);
    await settled(step);
    if (budgetStop) {
      const tried = attempts.length === 0 ? 'before any model call' : `after ${attempts.map((a) => `${a.model}: ${a.error}`).join('; ')}`;
      throw ApplicationFailure.nonRetryable(
        `tenant "${request.tenant}": budget refused ${budgetStop.model} for request ${request.requestId} ${tried}: ${budgetStop.reason}`,
        budgetStop.unavailable ? FailureType.BudgetUnavailable : FailureType.InsufficientQuota,
      );
    }
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
    ...(budgetStop && { budgetStop: { kind: budgetStop.kind, model: budgetStop.model, reason: budgetStop.reason } }),
  });
  // A waiting caller's answer leaves when this workflow task ends; the shortest timer ends it here, so the row and
  // the outcome below are written after the caller has the answer rather than before.
  if (answered(log)) await sleep(1);
  await settled(step);
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
  const { tenant: _t, policyId: _p, customerTier: _c, timeSensitivity: _s, budgetUsd: _b, tenantBudget: _tb, pinnedModel: _pm, history, ...call } = request;
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
  /** A budgeted request's tenant, caps, and how many calls it has reserved (each reservation's index). */
  budget?: { tenant: string; caps: BudgetCaps; calls: number; settles: Promise<void>[] };
}

interface Tried {
  attempt: Attempt;
  /** The model's answer, when it gave one. */
  result?: ModelResult;
}

/** A call the tenant's budget refused; `unavailable` when the budget could not be reached at all. */
interface BudgetStop {
  kind: 'model' | 'judge';
  model: string;
  reason: string;
  unavailable?: boolean;
}

/** What one step of the ladder tried, and whether the budget stopped it. */
interface StepResult {
  tried: Tried[];
  budgetStop?: BudgetStop;
}

interface Reserved {
  id: string;
  reservation: BudgetReservation;
}

/** Reserves one call's worst case in the tenant's budget; nothing (and no command) for a request without one. */
async function reserveCall(step: StepContext, call: BudgetedCall, callTimeoutMs: number): Promise<Reserved | undefined> {
  const { budget } = step;
  if (!budget) return undefined;
  // A judge reserves at once; a model call (an escalation) first lets earlier settles land, so it is weighed against
  // what the request really spent rather than against worst cases already paid off.
  if (call.kind === 'model') await settled(step);
  const { workflowId, runId } = workflowInfo();
  const id = reservationId(workflowId, runId, budget.calls++);
  try {
    const reservation = await reserveBudget({ tenant: budget.tenant, caps: budget.caps, reservationId: id, ttlMs: callTimeoutMs + SETTLE_MARGIN_MS, call });
    return { id, reservation };
  } catch (err) {
    // Without a reservation the call is not made: a budget that cannot be reached cannot promise the money.
    if (!(err instanceof ActivityFailure)) throw err;
    return { id, reservation: { accepted: false, reason: `budget unavailable: ${failureMessage(err)}` } };
  }
}

function refusalOf(kind: BudgetStop['kind'], model: string, reserved: Reserved | undefined): BudgetStop | undefined {
  if (!reserved || reserved.reservation.accepted) return undefined;
  const { reason } = reserved.reservation;
  return { kind, model, reason, ...(reason.startsWith('budget unavailable') && { unavailable: true }) };
}

/**
 * Charges what a call cost and releases the rest of its reservation. Money spent on a call the budget was not asked
 * about (a judge that bills nothing, so reserved nothing, yet cost something) is charged too, under an id of its own.
 * A settle that cannot be delivered leaves the reservation to expire at its worst case: never under-charged.
 * Started, not awaited: settles run beside the request's next steps and off its answer's path (`settled` waits).
 */
async function settleCall(step: StepContext, reserved: Reserved | undefined, usd: number): Promise<void> {
  const { budget } = step;
  if (!budget) return;
  const reservedSomething = reserved?.reservation.accepted === true && !reserved.reservation.skipped;
  if (!reservedSomething && !(usd > 0)) return;
  const { workflowId, runId } = workflowInfo();
  const id = reserved?.id ?? reservationId(workflowId, runId, budget.calls++);
  // Not cancellable: a cancelled request still pays for what it called.
  const settle = CancellationScope.nonCancellable(() => settleBudget({ tenant: budget.tenant, reservationId: id, actualUsd: usd })).catch((err: unknown) => {
    if (!(err instanceof ActivityFailure)) throw err;
    wfLog.warn('budget settle not delivered: the reservation expires at its worst case', { reservationId: id, usd, error: failureMessage(err) });
  });
  budget.settles.push(settle);
}

/** Waits for the settles started so far. */
async function settled(step: StepContext): Promise<void> {
  const settles = step.budget?.settles.splice(0) ?? [];
  if (settles.length > 0) await Promise.all(settles);
}

/** What a completed model call cost, with the earlier attempts that may have been billed too (money-safe). */
const modelCallCostUsd = (result: ModelResult) => result.costUsd + (result.possiblyBilled?.usd ?? 0);

/** What a raced call cost however it ended: its answer, what it reported when cancelled, or what its failure may have been billed. */
function racedCallCostUsd(outcome: { value: ModelResult } | { reason: unknown }): number {
  if ('value' in outcome) return modelCallCostUsd(outcome.value);
  if (!(outcome.reason instanceof ActivityFailure)) return 0;
  const report = cancelledCallOf(outcome.reason);
  if (report) return report.costUsd + (report.possiblyBilled?.usd ?? 0);
  return possiblyBilledOf(outcome.reason)?.usd ?? 0;
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

/** One rung: reserve its worst case (a budgeted request), call the model, settle, then the gate. */
async function tryModel(step: StepContext, next: Pick<NextStep, 'model' | 'cause'>, why: string): Promise<StepResult> {
  const rung = rungOf(step.ladder, next.model);
  const reserved = await reserveCall(step, { kind: 'model', modelId: next.model, request: step.callRequest }, rung.timeouts.scheduleToCloseMs);
  const refused = refusalOf('model', next.model, reserved);
  if (refused) return { tried: [], budgetStop: refused };
  return callAndGate(step, rung, next, why, reserved);
}

async function callAndGate(step: StepContext, rung: Rung, { model, cause }: Pick<NextStep, 'model' | 'cause'>, why: string, reserved: Reserved | undefined): Promise<StepResult> {
  let result: ModelResult;
  try {
    result = await callModel.executeWithOptions(modelCallOptions(rung, `${cause}: ${model} — ${why}`.slice(0, 200)), [{ request: step.callRequest, modelId: model }]);
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    const attempt = failedAttempt(model, cause, err);
    await settleCall(step, reserved, attempt.possiblyBilled?.usd ?? 0);
    return { tried: [{ attempt }] };
  }
  await settleCall(step, reserved, modelCallCostUsd(result));
  return gateAnswer(step, model, cause, result);
}

/** The gate's verdict on one answer; a paid judge reserves its worst case first, and a refusal leaves the answer unjudged. */
async function gateAnswer(step: StepContext, model: string, cause: Attempt['cause'], result: ModelResult): Promise<StepResult> {
  const { request, threshold } = step;
  const usage = pickUsage(result);
  // A recorded verdict (simulated, replayed answers) or a validators-only gate calls no model: a quick step. A
  // live answer graded by the paid judge, which heartbeats and can be cancelled, is a regular activity.
  const quick = step.quickGate && (result.origin !== 'live' || !step.liveGradingCallsModel);
  const paidJudge = result.origin === 'live' && step.liveGradingCallsModel;
  const reserved = paidJudge ? await reserveCall(step, { kind: 'judge', request, result }, JUDGE_SCHEDULE_TO_CLOSE_MS) : undefined;
  const refused = refusalOf('judge', model, reserved);
  if (refused) return { tried: [{ attempt: { model, cause, ...usage, ...(result.possiblyBilled && { possiblyBilled: result.possiblyBilled }) }, result }], budgetStop: refused };
  let tried: Tried;
  let judgeCostUsd: number;
  try {
    const verdict = quick
      ? await local.evaluateAnswer({ request, result, threshold })
      : await evaluateAnswer.executeWithOptions({ ...EVALUATE_OPTIONS, summary: `quality gate for ${model} (threshold ${threshold})` }, [{ request, result, threshold }]);
    const possiblyBilled = addPossiblyBilled(result.possiblyBilled, verdict.possiblyBilled);
    tried = { attempt: { model, cause, ...usage, verdict, ...(possiblyBilled && { possiblyBilled }) }, result };
    judgeCostUsd = verdict.costUsd + (verdict.possiblyBilled?.usd ?? 0);
  } catch (err) {
    // The answer was paid for; an unavailable gate means it cannot be trusted, so the ladder goes on.
    if (!(err instanceof ActivityFailure)) throw err;
    const judgeBilled = possiblyBilledOf(err);
    const possiblyBilled = addPossiblyBilled(result.possiblyBilled, judgeBilled);
    tried = { attempt: { model, cause, ...usage, error: `quality gate: ${failureMessage(err)}`, ...(possiblyBilled && { possiblyBilled }) }, result };
    judgeCostUsd = judgeBilled?.usd ?? 0;
  }
  await settleCall(step, reserved, judgeCostUsd);
  return { tried: [tried] };
}

/**
 * A step with a partner: both calls start at once in one CancellationScope (CONVENTIONS.md, "Racing two models").
 * The answer looked at first (the routed one; with prefer "latency" whichever arrives first) is gated as soon as it
 * arrives. If it passes, the scope is cancelled and the other call aborted; if not, the other answer, already under
 * way, is gated with no second round trip. Both calls are settled before the step ends and each is an attempt: a
 * cancelled one with what it reported it can have cost, an answer that arrived but was not needed with its price.
 * A budgeted request reserves both calls first; without room for the partner the routed model runs alone.
 */
async function raceModels(step: StepContext, routed: Pick<NextStep, 'model' | 'cause'>, partner: string, race: NonNullable<RoutePlan['speculative']>, why: string): Promise<StepResult> {
  const entrants = [
    { model: routed.model, cause: routed.cause, summary: `${routed.cause}: ${routed.model} — ${why}` },
    { model: partner, cause: 'speculative' as const, summary: `speculative: ${race.reason}` },
  ];
  const rungs = entrants.map(({ model }) => rungOf(step.ladder, model));
  const reserved = await Promise.all(
    entrants.map(({ model }, i) => reserveCall(step, { kind: 'model', modelId: model, request: step.callRequest }, rungs[i]!.timeouts.scheduleToCloseMs)),
  );
  const refused = refusalOf('model', routed.model, reserved[0]);
  if (refused) {
    await settleCall(step, reserved[1], 0);
    return { tried: [], budgetStop: refused };
  }
  if (refusalOf('model', partner, reserved[1])) {
    wfLog.info('budget refused the speculative partner: the routed model runs alone', { partner });
    return callAndGate(step, rungs[0]!, routed, why, reserved[0]);
  }
  const scope = new CancellationScope();
  const calls = entrants.map(({ model, summary }, i) =>
    scope.run(() =>
      callModel.executeWithOptions(
        // The cancelled call's report of what it cost arrives with its cancellation, so the workflow waits for it.
        { ...modelCallOptions(rungs[i]!, summary.slice(0, 200)), cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED },
        [{ request: step.callRequest, modelId: model, raced: true }],
      ),
    ),
  );
  // Settled as they end, so the loser's rejection is always observed.
  const settled = calls.map((call) => call.then((value) => ({ value }), (reason: unknown) => ({ reason })));
  const first = race.prefer === 'latency' ? await Promise.race(settled.map((s, i) => s.then(() => i))) : 0;
  const tried: (Tried | undefined)[] = [];
  let budgetStop: BudgetStop | undefined;
  for (const i of [first, 1 - first]) {
    const { model, cause } = entrants[i]!;
    const outcome = await settled[i]!;
    if ('reason' in outcome) {
      if (!(outcome.reason instanceof ActivityFailure)) throw outcome.reason;
      tried[i] = { attempt: { ...failedAttempt(model, cause, outcome.reason), status: 'failed' } };
      continue;
    }
    const gated = await gateAnswer(step, model, cause, outcome.value);
    const one = gated.tried[0]!;
    tried[i] = { ...one, attempt: { ...one.attempt, status: 'completed' } };
    budgetStop = gated.budgetStop;
    // A passing answer needs no other; nor does one the budget will not let the judge grade.
    if (one.attempt.verdict?.passed || budgetStop) {
      scope.cancel();
      break;
    }
  }
  const outcomes = await Promise.all(settled);
  await Promise.all(reserved.map((r, i) => settleCall(step, r, racedCallCostUsd(outcomes[i]!))));
  return { tried: entrants.map(({ model, cause }, i) => tried[i] ?? unneededAttempt(model, cause, outcomes[i]!)), ...(budgetStop && { budgetStop }) };
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
