import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ActivityDeps } from '../src/activities';
import type { RouteRequestInput } from '../src/domain/request';
import type { DecisionLog } from '../src/domain/results';
import { RouteFailedError, RouterClient } from '../src/client';
import { priceTokens } from '../src/domain/cost';
import { createRouterWorker } from '../src/worker/createWorker';
import { ScorerByOrigin } from '../src/evaluators/byOrigin';
import { QualityGate, defaultValidators } from '../src/evaluators/gate';
import { defaultPolicies, testCatalog } from './helpers/catalog';
import { judgedModels, loopbackDeps, type LoopbackScript } from './helpers/loopbackRouter';
import { chatCompletion, startOpenAIServer, type OpenAIServer, type ScriptHandler } from './helpers/openaiServer';
import { RoutingToEndClient } from './helpers/routerClient';
import { timeSkippingEnv, workflowBundle } from './helpers/temporal';

/** The loopback models, with a judge that fails every answer written by one of `failing`. */
function scriptedModels(opts: { failing?: string[]; script?: LoopbackScript['script'] }) {
  return judgedModels({ ...(opts.script ? { script: opts.script } : {}), judgeFails: (model) => (opts.failing ?? []).includes(model) });
}

const classification: RouteRequestInput = {
  requestId: 'req-1',
  prompt: 'Classify the intent of: "Where is my parcel? It was due yesterday."',
  taskType: 'classification',
};

describe('routeRequest on the time-skipping server', () => {
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

  async function run(
    handler: ScriptHandler,
    request: RouteRequestInput = classification,
    deps: Partial<ActivityDeps> = {},
    startToCloseMs = 5_000,
  ): Promise<DecisionLog> {
    await server?.close();
    server = await startOpenAIServer(handler);
    const worker = await createRouterWorker({
      connection: env.nativeConnection,
      taskQueue: 'escalation-test',
      workflows: { bundle: await workflowBundle() },
      deps: loopbackDeps(server.baseUrl, { startToCloseMs, ...deps }),
    });
    return worker.runUntil(new RoutingToEndClient({ client: env.client, taskQueue: 'escalation-test' }).route(request));
  }

  function modelCalls(model: string): number {
    return server!.calls.filter((c) => c.model === model).length;
  }

  it('local quick steps give the same decision log as regular activities, with fewer activity tasks in history', async () => {
    const policies = new Map([...defaultPolicies({ id: 'local', quickSteps: 'local' }), ...defaultPolicies({ id: 'regular', quickSteps: 'activity' })]);
    const handler = scriptedModels({ failing: ['small-model'] });
    const logs: DecisionLog[] = [];
    for (const policyId of ['local', 'regular']) logs.push(await run(handler, { ...classification, requestId: `quick-${policyId}`, policyId }, { policies }));
    const comparable = (log: DecisionLog) => ({ ...log, requestId: '', workflowId: '', timestamp: '', policyId: '', attempts: log.attempts.map((a) => ({ ...a, latencyMs: 0 })) });
    assert.deepEqual(comparable(logs[0]!), comparable(logs[1]!));
    assert.equal(logs[0]!.wasEscalated, true);
    const scheduled = async (requestId: string) =>
      ((await env.client.workflow.getHandle(`route-default-${requestId}`).fetchHistory()).events ?? [])
        .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
        .filter((name): name is string => name !== undefined && name !== null);
    assert.deepEqual(await scheduled('quick-local'), ['callModel', 'evaluateAnswer', 'callModel', 'evaluateAnswer'], 'only the paid calls are activity tasks');
    // Planning runs before the policy is known, so it is always local; the policy decides the rest.
    assert.deepEqual(await scheduled('quick-regular'), ['callModel', 'evaluateAnswer', 'callModel', 'evaluateAnswer', 'recordDecision']);
  });

  it('a validators-only gate is a quick step even for live answers: only the model call is an activity task', async () => {
    const gate = new QualityGate({ validators: defaultValidators(), scorer: new ScorerByOrigin() });
    const log = await run(scriptedModels({}), { ...classification, requestId: 'validators-only-live' }, { gate });
    assert.equal(log.origin, 'live');
    assert.equal(log.passed, true);
    const names = ((await env.client.workflow.getHandle('route-default-validators-only-live').fetchHistory()).events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
    assert.deepEqual(names, ['callModel']);
  });

  it('a local quick step that fails is retried, and the request completes with its row written once', async () => {
    const rows: DecisionLog[] = [];
    let failures = 0;
    const flaky = {
      record(log: DecisionLog) {
        if (failures++ < 2) throw new Error('decision log briefly unavailable');
        if (!rows.some((r) => r.requestId === log.requestId)) rows.push(log);
      },
    };
    const log = await run(scriptedModels({}), { ...classification, requestId: 'local-retry' }, { decisionLog: flaky });
    assert.equal(failures, 3, 'two failed writes, then the one that succeeded');
    assert.deepEqual(rows.map((r) => r.requestId), ['local-retry']);
    assert.equal(rows[0]!.costUsd, log.costUsd);
  });

  it('returns the answer before the decision-log row is written, and the row is still written once', async () => {
    let releaseRow!: () => void;
    const rowMayBeWritten = new Promise<void>((resolve) => (releaseRow = resolve));
    const rows: DecisionLog[] = [];
    let writes = 0;
    const slowLog = {
      async record(log: DecisionLog) {
        writes++;
        await rowMayBeWritten;
        rows.push(log);
      },
    };
    await server?.close();
    server = await startOpenAIServer(scriptedModels({ failing: ['small-model'] }));
    const worker = await createRouterWorker({
      connection: env.nativeConnection,
      taskQueue: 'escalation-test',
      workflows: { bundle: await workflowBundle() },
      deps: loopbackDeps(server.baseUrl, { decisionLog: slowLog }),
    });
    const client = new RouterClient({ client: env.client, taskQueue: 'escalation-test' });
    const request = { ...classification, requestId: 'early-return' };
    await worker.runUntil(async () => {
      const answer = await client.route(request);
      assert.equal(answer.finalModel, 'medium-model', 'the escalated answer, gated');
      assert.equal(rows.length, 0, 'no row yet when the answer arrives');
      // A duplicate of the request joins the running workflow rather than calling a model again.
      const calls = server!.calls.length;
      const duplicate = client.route(request);
      releaseRow();
      assert.deepEqual(await duplicate, answer);
      assert.deepEqual(await env.client.workflow.getHandle(answer.workflowId).result(), answer);
      assert.equal(server!.calls.length, calls);
    });
    assert.equal(writes, 1);
    assert.deepEqual(rows.map((r) => [r.requestId, r.costUsd]), [['early-return', (await env.client.workflow.getHandle('route-default-early-return').result()).costUsd]]);
  });

  it('without early return the row is written when route() returns', async () => {
    const rows: DecisionLog[] = [];
    await server?.close();
    server = await startOpenAIServer(scriptedModels({}));
    const worker = await createRouterWorker({
      connection: env.nativeConnection,
      taskQueue: 'escalation-test',
      workflows: { bundle: await workflowBundle() },
      deps: loopbackDeps(server.baseUrl, { decisionLog: { record: (log: DecisionLog) => void rows.push(log) } }),
    });
    const client = new RouterClient({ client: env.client, taskQueue: 'escalation-test' });
    const log = await worker.runUntil(client.route({ ...classification, requestId: 'wait-for-row' }, { earlyReturn: false }));
    assert.deepEqual(rows.map((r) => [r.requestId, r.costUsd]), [[log.requestId, log.costUsd]]);
  });

  it('keeps the routed small model when the gate passes it', async () => {
    const log = await run(scriptedModels({}), { ...classification, requestId: 'pass-small' });
    assert.equal(log.selectedModel, 'small-model');
    assert.equal(log.finalModel, 'small-model');
    assert.equal(log.wasEscalated, false);
    assert.equal(log.decision.ruleId, 'classification-small');
    assert.equal(log.passed, true);
    assert.equal(log.qualityScore, 1);
    assert.equal(log.answer, 'answer from small-model');
  });

  it('escalates to the next tier when the gate fails on the small tier', async () => {
    const log = await run(scriptedModels({ failing: ['small-model'] }), { ...classification, requestId: 'gate-fails-small' });
    assert.deepEqual(
      log.attempts.map((a) => [a.model, a.cause, a.verdict?.passed]),
      [
        ['small-model', 'routed', false],
        ['medium-model', 'escalation', true],
      ],
    );
    assert.equal(log.finalModel, 'medium-model');
    assert.equal(log.escalations, 1);
    assert.equal(log.answer, 'answer from medium-model');
    const catalog = testCatalog('openai');
    const calls = priceTokens(catalog.models[0]!, 100, 50) + priceTokens(catalog.models[1]!, 100, 50);
    const judging = log.attempts.reduce((s, a) => s + (a.verdict?.costUsd ?? 0), 0);
    assert.ok(judging > 0, 'judge calls are priced');
    assert.ok(Math.abs(log.costUsd - (calls + judging)) < 1e-12, `cost ${log.costUsd} counts both calls and both judgements once`);
    assert.equal(modelCalls('judge-model'), 2);
  });

  it('retries a provider that fails twice with back-off, and counts the cost once', async () => {
    const log = await run(
      scriptedModels({ script: { 'small-model': (n) => (n <= 2 ? { status: 500, json: { error: { message: 'overloaded' } } } : undefined) } }),
      { ...classification, requestId: 'flaky-small' },
    );
    assert.equal(modelCalls('small-model'), 3);
    assert.equal(log.finalModel, 'small-model');
    assert.equal(log.attempts.length, 1);
    assert.equal(log.attempts[0]!.costUsd, priceTokens(testCatalog('openai').models[0]!, 100, 50));
  });

  it('retries a call that outlives its start-to-close timeout', async () => {
    const log = await run(
      scriptedModels({ script: { 'small-model': (n) => (n === 1 ? { delayMs: 4_000, json: chatCompletion('small-model', 'late') } : undefined) } }),
      { ...classification, requestId: 'slow-small' },
      {},
      1_000,
    );
    assert.equal(modelCalls('small-model'), 2);
    assert.equal(log.answer, 'answer from small-model', 'the late answer of the timed-out try is not used');
  });

  it('does not retry a 400 and escalates past the model', async () => {
    const log = await run(
      scriptedModels({ script: { 'small-model': () => ({ status: 400, json: { error: { message: 'bad model parameters' } } }) } }),
      { ...classification, requestId: 'bad-request-small' },
    );
    assert.equal(modelCalls('small-model'), 1);
    assert.match(log.attempts[0]!.error ?? '', /InvalidRequest|bad model parameters/);
    assert.equal(log.finalModel, 'medium-model');
    assert.equal(log.attempts[0]!.costUsd, 0, 'a failed call costs nothing');
  });

  it('goes straight to the best model once maxEscalations is spent', async () => {
    const log = await run(
      scriptedModels({ failing: ['small-model', 'medium-model'] }),
      { ...classification, requestId: 'max-escalations-0' },
      { policies: defaultPolicies({ maxEscalations: 0 }) },
    );
    assert.deepEqual(
      log.attempts.map((a) => [a.model, a.cause]),
      [
        ['small-model', 'routed'],
        ['large-model', 'best-fallback'],
      ],
    );
    assert.equal(modelCalls('medium-model'), 0);
  });

  it('keeps the best model answer when every tier fails the gate', async () => {
    const log = await run(
      scriptedModels({ failing: ['small-model', 'medium-model', 'large-model'] }),
      { ...classification, requestId: 'all-fail' },
      { policies: defaultPolicies({ maxEscalations: 1 }) },
    );
    assert.deepEqual(
      log.attempts.map((a) => [a.model, a.cause]),
      [
        ['small-model', 'routed'],
        ['medium-model', 'escalation'],
        ['large-model', 'best-fallback'],
      ],
    );
    assert.equal(log.finalModel, 'large-model');
    assert.equal(log.passed, false);
    assert.equal(log.answer, 'answer from large-model');
  });

  it('fails with AllModelsFailed when no model answers, and the same requestId can then be retried', async () => {
    const request = { ...classification, requestId: 'all-down' };
    const allDown = () => ({ status: 400, json: { error: { message: 'account suspended' } } });
    await assert.rejects(
      run(scriptedModels({ script: { 'small-model': allDown, 'medium-model': allDown, 'large-model': allDown } }), request),
      (err: unknown) => {
        assert.ok(err instanceof RouteFailedError, `expected a RouteFailedError, got ${String(err)}`);
        assert.equal(err.type, 'AllModelsFailed');
        assert.match(err.message, /^no model answered request all-down: small-model: InvalidRequest.*account suspended/);
        return true;
      },
    );
    const log = await run(scriptedModels({}), request);
    assert.equal(log.finalModel, 'small-model', 'a failed request runs again instead of returning its old failure');
  });
});
