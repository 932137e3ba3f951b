import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ActivityDeps } from '../src/activities';
import { banditStateInput } from '../src/activities/bandit';
import { banditWorkflowId } from '../src/domain/workflowIds';
import { escalationLadder } from '../src/routing/ladder';
import { CONTEXT_DIMENSION } from '../src/routing/strategies/bandit/dimension';
import type { BanditOutcome } from '../src/routing/strategies/bandit/types';
import { createRouterWorker } from '../src/worker/createWorker';
import { banditOutcomesSignal, banditStateQuery, banditViewQuery, type banditState } from '../src/workflows/banditState';
import { RoutingToEndClient } from './helpers/routerClient';
import { banditPolicy, withBanditPolicies } from './helpers/bandit';
import { testCatalog } from './helpers/catalog';
import { HARD_MARKER, judgedModels, loopbackDeps } from './helpers/loopbackRouter';
import { startOpenAIServer, type OpenAIServer } from './helpers/openaiServer';
import { devServerEnv, workflowBundle } from './helpers/temporal';

const LADDER = escalationLadder(testCatalog('openai').models);

function outcome(i: number, arm = 'small-model'): BanditOutcome {
  const vector = new Array<number>(CONTEXT_DIMENSION).fill(0);
  vector[0] = 1;
  return { requestId: `o-${i}`, arm, context: { bucket: 'classification|low|short', vector }, quality: i % 4 === 0 ? 0 : 1, costUsd: 0.001, bestCostUsd: 0.01, latencyMs: 50, propensity: 0.5 };
}

describe('banditState and bandit routing on the Temporal dev server', () => {
  let env: TestWorkflowEnvironment;
  let server: OpenAIServer;

  before(async () => {
    [env, server] = await Promise.all([devServerEnv(), startOpenAIServer(judgedModels()), workflowBundle()]);
  });
  after(async () => {
    await server?.close();
    await env?.teardown();
  });

  async function worker(taskQueue: string, deps: Partial<ActivityDeps> = {}, withClient = true) {
    return createRouterWorker({
      connection: env.nativeConnection,
      taskQueue,
      workflows: { bundle: await workflowBundle() },
      deps: loopbackDeps(server.baseUrl, deps),
      ...(withClient ? { client: env.client } : {}),
    });
  }

  /** Starts (or signals) a policy's state workflow with outcomes, as the route activity does. */
  async function send(policyId: string, taskQueue: string, outcomes: BanditOutcome[], limit?: number) {
    const policy = banditPolicy(policyId, { forgetting: { kind: 'none' }, ...(limit ? { continueAsNewAtHistoryLength: limit } : {}) });
    await env.client.workflow.signalWithStart<typeof banditState, [BanditOutcome[]]>('banditState', {
      workflowId: banditWorkflowId(policyId),
      taskQueue,
      args: [banditStateInput(policy, LADDER)],
      signal: banditOutcomesSignal,
      signalArgs: [outcomes],
    });
  }

  const view = (policyId: string) => env.client.workflow.getHandle<typeof banditState>(banditWorkflowId(policyId)).query(banditViewQuery);

  /** Until the state has folded `n` outcomes (signals are asynchronous), at most 20 s. */
  async function folded(policyId: string, n: number) {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const v = await view(policyId);
      if (v.summary.counters.outcomes + v.summary.counters.duplicates >= n || Date.now() > deadline) return v;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('counts each requestId once, keeps state exactly across continue-as-new and a worker restart', { timeout: 120_000 }, async () => {
    const taskQueue = 'bandit-can';
    let w = await worker(taskQueue);
    const before = await w.runUntil(async () => {
      for (let i = 0; i < 60; i++) await send('can', taskQueue, [outcome(i), outcome(i)], 20); // every outcome twice
      await folded('can', 120);
      return env.client.workflow.getHandle<typeof banditState>(banditWorkflowId('can')).query(banditStateQuery);
    });
    w = await worker(taskQueue); // a new worker: the state lives in the workflow, not in the worker
    const afterRestart = await w.runUntil(async () => {
      for (let i = 60; i < 80; i++) await send('can', taskQueue, [outcome(i), outcome(i - 1)]);
      return folded('can', 160);
    });
    assert.equal(afterRestart.summary.counters.outcomes, 80);
    assert.equal(afterRestart.summary.counters.duplicates, 80);
    assert.ok(afterRestart.continuedAsNew >= 2, `continued as new ${afterRestart.continuedAsNew} times`);
    // Bounded near the limit of 20: signals that arrive while a workflow task runs still land in that run before it
    // can continue as new, so a burst adds a few; without continue-as-new one run would hold all 80 signal events.
    assert.ok(afterRestart.historyLength <= 60, `history bounded: ${afterRestart.historyLength} events`);
    assert.equal(before.counters.outcomes, 60);
    const small = afterRestart.summary.arms.find((a) => a.id === 'small-model')!;
    assert.equal(small.pulls, 80);
    assert.equal(small.meanQuality, 60 / 80, 'one outcome in four failed');
  });

  it('admin updates: good changes apply, bad values are refused with the field and rule', { timeout: 60_000 }, async () => {
    const taskQueue = 'bandit-admin';
    const w = await worker(taskQueue);
    await w.runUntil(async () => {
      await send('admin', taskQueue, [outcome(1)]);
      const router = new RoutingToEndClient({ client: env.client, taskQueue });
      const summary = await router.changeBandit('admin', { kind: 'settings', settings: { explorationRate: 0.2, lambda: 0.5 } });
      assert.equal(summary.settings.explorationRate, 0.2);
      assert.equal(summary.settings.lambda, 0.5);
      const refused = (err: unknown, message: RegExp) => err instanceof WorkflowUpdateFailedError && message.test(String((err.cause as Error)?.message));
      await assert.rejects(router.changeBandit('admin', { kind: 'settings', settings: { explorationRate: 1.5 } }), (err) => refused(err, /^settings\.explorationRate: must be between 0 and 1, got 1\.5$/));
      await assert.rejects(router.changeBandit('admin', { kind: 'retire-arm', arm: 'ghost' }), (err) => refused(err, /^arm: must be one of the bandit's arms .*got "ghost"$/));
      const added = await router.changeBandit('admin', { kind: 'add-arm', arm: { id: 'new-model', priceRatio: 0.1 } });
      assert.ok(added.arms.some((a) => a.id === 'new-model'));
      assert.equal((await router.getBanditState('admin')).summary.settings.explorationRate, 0.2, 'the refused change left the state alone');
    });
  });

  it('routes with the bandit, sends each outcome to bandit-<policyId>, and takes feedback once', { timeout: 90_000 }, async () => {
    const taskQueue = 'bandit-route';
    const policy = banditPolicy('learner', { forgetting: { kind: 'none' } });
    const w = await worker(taskQueue, withBanditPolicies(policy));
    await w.runUntil(async () => {
      const router = new RoutingToEndClient({ client: env.client, taskQueue });
      const logs = [];
      for (let i = 0; i < 12; i++) {
        logs.push(await router.route({ requestId: `learn-${i}`, prompt: `${i % 3 === 0 ? HARD_MARKER : ''} Classify the intent: "where is parcel ${i}?"`, taskType: 'classification', policyId: 'learner' }));
      }
      for (const log of logs) {
        assert.equal(log.strategy, 'bandit');
        assert.ok(log.propensity > 0 && log.propensity <= 1, `propensity ${log.propensity}`);
        assert.match(log.decision.reason, /^thompson: /);
      }
      const v = await folded('learner', 12);
      assert.equal(v.summary.counters.outcomes, 12);
      assert.equal(v.summary.arms.reduce((n, a) => n + a.pulls, 0), 12);
      assert.equal(await router.reportFeedback('learn-1', 0), true);
      assert.equal(await router.reportFeedback('learn-1', 1), false, 'a second verdict on the same request is not counted');
      const deadline = Date.now() + 20_000;
      while ((await view('learner')).summary.counters.feedback < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.equal((await view('learner')).summary.counters.feedback, 1);
    });
  });

  it('a failed outcome signal does not fail the request', { timeout: 60_000 }, async () => {
    const taskQueue = 'bandit-no-client';
    // A worker without a Temporal client cannot reach the state workflow: the outcome activity fails for good.
    const w = await worker(taskQueue, withBanditPolicies(banditPolicy('orphan')), false);
    const log = await w.runUntil(new RoutingToEndClient({ client: env.client, taskQueue }).route({ requestId: 'orphan-1', prompt: 'Classify: "hello"', taskType: 'classification', policyId: 'orphan' }));
    assert.equal(log.strategy, 'bandit');
    assert.ok(log.answer.length > 0);
    const history = await env.client.workflow.getHandle(`route-default-orphan-1`).fetchHistory();
    const failed = (history.events ?? []).some((e) => e.activityTaskFailedEventAttributes?.failure?.message?.includes('no Temporal client'));
    assert.ok(failed, 'the outcome activity failed, and the request completed anyway');
  });
});
