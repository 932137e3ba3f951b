import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ActivityDeps } from '../src/activities';
import { DecisionLogStore } from '../src/analytics/decisionLogStore';
import { RouteFailedError } from '../src/client';
import { priceTokens } from '../src/domain/cost';
import type { Speculative } from '../src/domain/policy';
import type { RouteRequestInput } from '../src/domain/request';
import type { DecisionLog } from '../src/domain/results';
import { createRouterWorker } from '../src/worker/createWorker';
import { Speculative as SpeculativeAttribute } from '../src/workflows/searchAttributes';
import { defaultPolicies, testCatalog } from './helpers/catalog';
import { startWorkerProcess, waitFor } from './helpers/childWorker';
import { ANSWER_USAGE, HARD_MARKER, judgedModels, loopbackDeps, type LoopbackScript } from './helpers/loopbackRouter';
import { chatCompletion, openAIError, startOpenAIServer, type OpenAIServer, type Scripted } from './helpers/openaiServer';
import { RoutingToEndClient } from './helpers/routerClient';
import { devServerEnv, timeSkippingEnv, workflowBundle } from './helpers/temporal';

const TASK_QUEUE = 'speculative-test';
const [SMALL, , LARGE] = testCatalog('openai').models;
/** The default policy routes classification to the small tier with confidence 0.85: below this bar, it races. */
const RACE: Speculative = { whenConfidenceBelow: 0.9, partner: 'best', prefer: 'cost' };
/** Long enough that only a cancellation ends it (the server's close() cuts it short). */
const HANGS: Scripted = { delayMs: 10 * 60_000, json: chatCompletion('late', 'too late', ANSWER_USAGE) };

function classification(requestId: string, hard = false): RouteRequestInput {
  return { requestId, prompt: `${hard ? `${HARD_MARKER} ` : ''}Classify the intent: "my card was charged twice"`, taskType: 'classification' };
}

/** The patches a run's history recorded (core's patch markers). */
function patchesOf(events: readonly temporal.api.history.v1.IHistoryEvent[]): string[] {
  return events.flatMap((e) => {
    const attrs = e.markerRecordedEventAttributes;
    const data = attrs?.markerName === 'core_patch' ? attrs.details?.['patch-data']?.payloads?.[0]?.data : undefined;
    return data ? [(JSON.parse(Buffer.from(data).toString('utf8')) as { id: string }).id] : [];
  });
}

const outcomes = (log: DecisionLog) => log.attempts.map((a) => [a.model, a.cause, a.status, a.verdict?.passed]);

describe('speculative routing on the time-skipping server', () => {
  let env: TestWorkflowEnvironment;
  let server: OpenAIServer | undefined;

  before(async () => {
    env = await timeSkippingEnv();
    await workflowBundle();
  });
  after(async () => {
    await server?.close();
    await env?.teardown();
  });

  async function run(request: RouteRequestInput, script: LoopbackScript, speculative: Speculative | undefined = RACE, deps: Partial<ActivityDeps> = {}): Promise<DecisionLog> {
    await server?.close();
    server = await startOpenAIServer(judgedModels(script));
    const worker = await createRouterWorker({
      connection: env.nativeConnection,
      taskQueue: TASK_QUEUE,
      workflows: { bundle: await workflowBundle() },
      deps: loopbackDeps(server.baseUrl, { policies: defaultPolicies(speculative ? { speculative } : {}), ...deps }),
    });
    return worker.runUntil(new RoutingToEndClient({ client: env.client, taskQueue: TASK_QUEUE }).route(request));
  }

  const calls = (model: string) => server!.calls.filter((c) => c.model === model);
  const history = async (requestId: string) => (await env.client.workflow.getHandle(`route-default-${requestId}`).fetchHistory()).events ?? [];

  it('the routed answer passes: the partner is cancelled, its HTTP request aborted, and both calls logged, each cost counted once', async () => {
    const log = await run(classification('race-routed-passes'), { script: { 'large-model': () => HANGS } });

    assert.deepEqual(outcomes(log), [
      ['small-model', 'routed', 'completed', true],
      ['large-model', 'speculative', 'cancelled', undefined],
    ]);
    assert.equal(log.finalModel, 'small-model');
    assert.equal(log.wasEscalated, false);
    assert.equal(calls('large-model').length, 1);
    assert.equal(calls('large-model')[0]!.aborted, true, 'the loopback server saw the partner hang up');
    assert.equal(calls('small-model')[0]!.aborted, false);
    assert.equal(calls('judge-model').length, 1, 'only the routed answer was judged');

    // No usage came back from the aborted call: input counted from the prompt, the expected answer as output.
    const [routed, partner] = log.attempts;
    assert.equal(partner!.costEstimated, true);
    assert.ok(partner!.inputTokens > 0 && partner!.outputTokens > 0);
    assert.equal(partner!.costUsd, priceTokens(LARGE!, partner!.inputTokens, partner!.outputTokens));
    const routedCall = priceTokens(SMALL!, ANSWER_USAGE.prompt_tokens, ANSWER_USAGE.completion_tokens);
    assert.equal(routed!.costUsd, routedCall);
    const total = routedCall + routed!.verdict!.costUsd + partner!.costUsd;
    assert.ok(Math.abs(log.costUsd - total) < 1e-15, `costUsd ${log.costUsd} is the routed call, its judgement and the cancelled call, once each`);
    // Saved against always-best on the kept answer's tokens, the cancelled call included in what was spent.
    assert.ok(Math.abs(log.costSavedUsd - (priceTokens(LARGE!, ANSWER_USAGE.prompt_tokens, ANSWER_USAGE.completion_tokens) - log.costUsd)) < 1e-15);

    const events = await history('race-routed-passes');
    const summaries = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'callModel').map((e) => e.userMetadata?.summary?.data);
    const decoded = summaries.map((d) => (d ? JSON.parse(Buffer.from(d).toString('utf8')) : undefined));
    assert.equal(decoded.length, 2);
    assert.match(decoded[0], /^routed: small-model — /);
    assert.equal(decoded[1], 'speculative: large-model raced beside small-model — confidence 0.85 < 0.9');
    assert.ok(events.some((e) => e.activityTaskCancelRequestedEventAttributes), 'the partner was cancelled through Temporal');
    assert.deepEqual(patchesOf(events), ['slim-steps', 'speculative-race']);
    const described = await env.client.workflow.getHandle('route-default-race-routed-passes').describe();
    assert.equal(described.typedSearchAttributes.get(SpeculativeAttribute), true);
  });

  it('the routed answer fails: the partner answer already under way is gated, with no further model call', async () => {
    const log = await run(classification('race-routed-fails', true), { script: { 'large-model': () => ({ delayMs: 300, json: chatCompletion('large-model', 'answer from large-model', ANSWER_USAGE) }) } });

    assert.deepEqual(outcomes(log), [
      ['small-model', 'routed', 'completed', false],
      ['large-model', 'speculative', 'completed', true],
    ]);
    assert.equal(log.finalModel, 'large-model');
    assert.equal(log.answer, 'answer from large-model');
    assert.deepEqual(server!.calls.map((c) => c.model).filter((m) => m !== 'judge-model').sort(), ['large-model', 'small-model'], 'one call per model, the medium tier never asked');
    assert.equal(calls('judge-model').length, 2);
    assert.equal(log.escalations, 0, 'the partner ran beside the routed model, not after it');
    const total = log.attempts.reduce((sum, a) => sum + a.costUsd + (a.verdict?.costUsd ?? 0), 0);
    assert.equal(log.costUsd, total);
    assert.ok(log.attempts.every((a) => !a.costEstimated));
  });

  it('the partner call fails: the ladder goes on from the routed model', async () => {
    const log = await run(classification('race-partner-fails', true), { script: { 'large-model': () => ({ status: 400, json: openAIError('model overloaded with nonsense') }) } });

    assert.deepEqual(outcomes(log), [
      ['small-model', 'routed', 'completed', false],
      ['large-model', 'speculative', 'failed', undefined],
      ['medium-model', 'escalation', undefined, true],
    ]);
    assert.match(log.attempts[1]!.error!, /InvalidRequest/);
    assert.equal(log.attempts[1]!.costUsd, 0);
    assert.equal(log.finalModel, 'medium-model');
    assert.equal(log.escalations, 1);
    assert.equal(calls('large-model').length, 1, 'a refused call is not retried');
  });

  it('prefer "latency": the partner answers and passes first, so its answer is kept and the routed call cancelled', async () => {
    const log = await run(classification('race-latency'), { script: { 'small-model': () => HANGS } }, { ...RACE, prefer: 'latency' });

    assert.deepEqual(outcomes(log), [
      ['small-model', 'routed', 'cancelled', undefined],
      ['large-model', 'speculative', 'completed', true],
    ]);
    assert.equal(log.finalModel, 'large-model');
    assert.equal(calls('small-model')[0]!.aborted, true);
    assert.equal(log.attempts[0]!.costEstimated, true);
    assert.ok(log.attempts[0]!.costUsd > 0);
    assert.equal(log.wasEscalated, false);
  });

  it('a confident decision does not race: the old commands, no patch marker, no Speculative attribute', async () => {
    const log = await run(classification('no-race'), {}, { ...RACE, whenConfidenceBelow: 0.5 });

    assert.deepEqual(outcomes(log), [['small-model', 'routed', undefined, true]]);
    const events = await history('no-race');
    assert.deepEqual(events.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean), ['callModel', 'evaluateAnswer']);
    assert.deepEqual(patchesOf(events), ['slim-steps']);
    const described = await env.client.workflow.getHandle('route-default-no-race').describe();
    assert.equal(described.typedSearchAttributes.get(SpeculativeAttribute), undefined);
  });

  it('a partner model missing from the catalog fails the request naming the field, before any model is called', async () => {
    await assert.rejects(
      run(classification('race-unknown-partner'), {}, { ...RACE, partner: { model: 'gpt-9' } }),
      (err: unknown) => err instanceof RouteFailedError && /speculative\.partner\.model: "gpt-9" is not in the catalog/.test(err.message),
    );
    assert.equal(server!.calls.length, 0);
  });
});

describe('a worker killed mid-race (dev server)', () => {
  let env: TestWorkflowEnvironment;
  let server: OpenAIServer;
  let workerA: ChildProcess | undefined;
  let store: DecisionLogStore | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'router-race-crash-'));

  before(async () => {
    // Both first calls hang on worker A. On worker B the routed model answers after a moment (the partner's retry is
    // under way by then) and the partner hangs until it is cancelled.
    const handler = judgedModels({
      script: {
        'small-model': (n) => (n === 1 ? HANGS : { delayMs: 1_500, json: chatCompletion('small-model', 'answer from small-model', ANSWER_USAGE) }),
        'large-model': () => HANGS,
      },
    });
    [env, server] = await Promise.all([devServerEnv(), startOpenAIServer(handler), workflowBundle()]);
  });
  after(async () => {
    if (workerA && workerA.exitCode === null && workerA.signalCode === null) workerA.kill('SIGKILL');
    store?.close();
    await server?.close();
    await env?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('completes once on another worker: one row, the lost calls possibly billed, no cost counted twice', { timeout: 120_000 }, async () => {
    const decisionLogPath = join(dir, 'decisions.sqlite');
    const started = startWorkerProcess({
      TEMPORAL_ADDRESS: env.address,
      ROUTER_TASK_QUEUE: TASK_QUEUE,
      LOOPBACK_BASE_URL: server.baseUrl,
      DECISION_LOG_PATH: decisionLogPath,
      START_TO_CLOSE_MS: '120000',
      SPECULATIVE: JSON.stringify(RACE),
    });
    workerA = started.child;
    await started.ready;
    const router = new RoutingToEndClient({ client: env.client, taskQueue: TASK_QUEUE });
    const handle = await router.startRoute(classification('race-survives-a-crash'));

    const modelCalls = (model: string) => server.calls.filter((c) => c.model === model);
    await waitFor('worker A to start both raced calls', () => modelCalls('small-model').length === 1 && modelCalls('large-model').length === 1);
    workerA.kill('SIGKILL');
    const [, signal] = (await once(workerA, 'exit')) as [number | null, NodeJS.Signals | null];
    assert.equal(signal, 'SIGKILL', `worker A was killed, not stopped:\n${started.stderr()}`);

    store = await DecisionLogStore.open(decisionLogPath);
    const workerB = await createRouterWorker({
      connection: env.nativeConnection,
      taskQueue: TASK_QUEUE,
      workflows: { bundle: await workflowBundle() },
      deps: loopbackDeps(server.baseUrl, { startToCloseMs: 120_000, decisionLog: store, policies: defaultPolicies({ speculative: RACE }) }),
    });
    const log = await workerB.runUntil(handle.result());

    assert.deepEqual(outcomes(log), [
      ['small-model', 'routed', 'completed', true],
      ['large-model', 'speculative', 'cancelled', undefined],
    ]);
    assert.equal(modelCalls('small-model').length, 2, 'the routed call was made again on worker B');
    assert.equal(modelCalls('large-model').length, 2, 'and so was the partner, then cancelled');
    assert.equal(modelCalls('large-model')[1]!.aborted, true);
    assert.equal(modelCalls('judge-model').length, 1);

    const [routed, partner] = log.attempts;
    // Each call counted once, from what worker B saw; worker A's lost tries are possibly billed, beside costUsd.
    const routedCall = priceTokens(SMALL!, ANSWER_USAGE.prompt_tokens, ANSWER_USAGE.completion_tokens);
    assert.equal(routed!.costUsd, routedCall);
    assert.ok(Math.abs(log.costUsd - (routedCall + routed!.verdict!.costUsd + partner!.costUsd)) < 1e-15);
    assert.deepEqual([routed!.possiblyBilled?.calls, partner!.possiblyBilled?.calls], [1, 1]);
    assert.equal(log.possiblyBilledCalls, 2);

    assert.equal((await store.count()), 1);
    assert.equal((await store.get('race-survives-a-crash'))?.costUsd, log.costUsd);
  });
});
