import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DecisionLogStore } from '../src/analytics/decisionLogStore';
import type { RouteRequestInput } from '../src/domain/request';
import { priceTokens } from '../src/domain/cost';
import { createRouterWorker } from '../src/worker/createWorker';
import { RoutingToEndClient } from './helpers/routerClient';
import { testCatalog } from './helpers/catalog';
import { ANSWER_USAGE, judgedModels, loopbackDeps } from './helpers/loopbackRouter';
import { chatCompletion, startOpenAIServer, type OpenAIServer } from './helpers/openaiServer';
import { devServerEnv, workflowBundle } from './helpers/temporal';
import { startWorkerProcess, waitFor } from './helpers/childWorker';

const TASK_QUEUE = 'durability';
/** Long enough that only the heartbeat timeout (5 s in the workflow) can notice the dead worker. */
const START_TO_CLOSE_MS = 120_000;

describe('a worker killed mid-request', () => {
  let env: TestWorkflowEnvironment;
  let server: OpenAIServer;
  let workerA: ChildProcess | undefined;
  let store: DecisionLogStore | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'router-durability-'));

  before(async () => {
    // The first call to the routed model hangs (until close()); the retry answers at once.
    const handler = judgedModels({
      script: { 'small-model': (n) => (n === 1 ? { delayMs: 10 * 60_000, json: chatCompletion('small-model', 'too late') } : undefined) },
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

  it('completes on another worker, calling the model again but counting and logging the request once', { timeout: 120_000 }, async () => {
    const decisionLogPath = join(dir, 'decisions.sqlite');
    const started = startWorkerProcess({
      TEMPORAL_ADDRESS: env.address,
      ROUTER_TASK_QUEUE: TASK_QUEUE,
      LOOPBACK_BASE_URL: server.baseUrl,
      DECISION_LOG_PATH: decisionLogPath,
      START_TO_CLOSE_MS: String(START_TO_CLOSE_MS),
    });
    workerA = started.child;
    await started.ready;

    const request: RouteRequestInput = { requestId: 'survives-a-crash', prompt: 'Classify the intent: "my card was charged twice"', taskType: 'classification' };
    const router = new RoutingToEndClient({ client: env.client, taskQueue: TASK_QUEUE });
    const handle = await router.startRoute(request);

    await waitFor('worker A to call the routed model', () => server.calls.some((c) => c.model === 'small-model'));
    workerA.kill('SIGKILL');
    const [, signal] = (await once(workerA, 'exit')) as [number | null, NodeJS.Signals | null];
    assert.equal(signal, 'SIGKILL', `worker A was killed, not stopped:\n${started.stderr()}`);

    store = await DecisionLogStore.open(decisionLogPath);
    const workerB = await createRouterWorker({
      connection: env.nativeConnection,
      taskQueue: TASK_QUEUE,
      workflows: { bundle: await workflowBundle() },
      deps: loopbackDeps(server.baseUrl, { startToCloseMs: START_TO_CLOSE_MS, decisionLog: store }),
    });
    const log = await workerB.runUntil(handle.result());

    assert.equal(log.answer, 'answer from small-model');
    assert.equal(server.calls.filter((c) => c.model === 'small-model').length, 2, 'the killed call was made again');
    assert.equal(server.calls.filter((c) => c.model === 'judge-model').length, 1, 'the answer was judged once');
    assert.deepEqual(
      log.attempts.map((a) => [a.model, a.cause, a.verdict?.passed]),
      [['small-model', 'routed', true]],
    );
    const callPrice = priceTokens(testCatalog('openai').models[0]!, ANSWER_USAGE.prompt_tokens, ANSWER_USAGE.completion_tokens);
    const attempt = log.attempts[0]!;
    assert.equal(attempt.costUsd, callPrice, 'one call is paid for');
    assert.ok(attempt.verdict && attempt.verdict.costUsd > 0);
    assert.ok(Math.abs(log.costUsd - (callPrice + attempt.verdict.costUsd)) < 1e-15, `cost ${log.costUsd} is one call plus one judgement`);

    assert.equal((await store.count()), 1);
    assert.equal((await store.get('survives-a-crash'))?.costUsd, log.costUsd);

    // The killed call may have been billed: it is recorded as its own estimated entry, not hidden nor in costUsd.
    assert.deepEqual(attempt.possiblyBilled && { calls: attempt.possiblyBilled.calls, estimate: attempt.possiblyBilled.estimate }, { calls: 1, estimate: true });
    assert.ok(attempt.possiblyBilled!.usd > 0, 'the estimate prices the lost call');
    assert.ok(Math.abs(log.costUsd - (callPrice + attempt.verdict.costUsd)) < 1e-15, 'and costUsd still counts what was seen, once');
    assert.equal(log.possiblyBilledCalls, 1);
    assert.equal((await store.get('survives-a-crash'))?.possiblyBilledUsd, attempt.possiblyBilled!.usd);
    // Both tries carried the same idempotency key, so a deduplicating provider would have billed one.
    const keys = server.calls.filter((c) => c.model === 'small-model').map((c) => c.headers['idempotency-key']);
    assert.equal(keys.length, 2);
    assert.ok(keys[0] && keys[0] === keys[1], `idempotency keys ${JSON.stringify(keys)}`);
    const judgeKeys = server.calls.filter((c) => c.model === 'judge-model').map((c) => c.headers['idempotency-key']);
    assert.ok(judgeKeys[0] && judgeKeys[0] !== keys[0], 'the judge call has a key of its own');

    // The retry was the same activity's second attempt, started because worker A stopped heartbeating.
    const history = await handle.fetchHistory();
    const events = history.events ?? [];
    const scheduledModelCalls = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'callModel');
    assert.equal(scheduledModelCalls.length, 1);
    const scheduledId = scheduledModelCalls[0]!.eventId!.toString();
    const startedCall = events.find((e) => e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === scheduledId);
    const startedAttrs = startedCall?.activityTaskStartedEventAttributes;
    assert.equal(startedAttrs?.attempt, 2);
    assert.equal(startedAttrs?.lastFailure?.timeoutFailureInfo?.timeoutType, temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_HEARTBEAT);
  });
});

describe('a worker stopped by SIGTERM mid-call (a deploy)', () => {
  let env: TestWorkflowEnvironment;
  let server: OpenAIServer;
  let worker: ChildProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'router-sigterm-'));

  before(async () => {
    // The routed model takes two seconds to answer: long enough to be mid-call when the deploy stops the worker.
    const handler = judgedModels({ script: { 'small-model': () => ({ delayMs: 2_000, json: chatCompletion('small-model', 'answer from small-model', ANSWER_USAGE) }) } });
    [env, server] = await Promise.all([devServerEnv(), startOpenAIServer(handler), workflowBundle()]);
  });
  after(async () => {
    if (worker && worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    await server?.close();
    await env?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets the running call finish within the grace time, so it is made (and paid) once', { timeout: 120_000 }, async () => {
    const started = startWorkerProcess({ TEMPORAL_ADDRESS: env.address, ROUTER_TASK_QUEUE: TASK_QUEUE, LOOPBACK_BASE_URL: server.baseUrl });
    worker = started.child;
    await started.ready;
    const router = new RoutingToEndClient({ client: env.client, taskQueue: TASK_QUEUE });
    const handle = await router.startRoute({ requestId: 'survives-a-deploy', prompt: 'Classify the intent: "where is my parcel"', taskType: 'classification' });

    await waitFor('the worker to call the routed model', () => server.calls.some((c) => c.model === 'small-model'));
    worker.kill('SIGTERM');
    const [code] = (await once(worker, 'exit')) as [number | null, NodeJS.Signals | null];
    assert.equal(code, 0, `the worker stopped cleanly:\n${started.stderr()}`);

    const next = await createRouterWorker({
      connection: env.nativeConnection,
      taskQueue: TASK_QUEUE,
      workflows: { bundle: await workflowBundle() },
      deps: loopbackDeps(server.baseUrl),
    });
    const log = await next.runUntil(handle.result());
    assert.equal(server.calls.filter((c) => c.model === 'small-model').length, 1, 'the call was not repeated');
    assert.equal(log.possiblyBilledCalls, 0);
    assert.equal(log.finalModel, 'small-model');
  });
});
