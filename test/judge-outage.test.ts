import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { fileStrategyEnv } from '../src/activities/fileCache';
import type { ModelSpec } from '../src/domain/catalog';
import { priceTokens } from '../src/domain/cost';
import type { JudgeUnavailable } from '../src/domain/policy';
import type { RouteRequestInput } from '../src/domain/request';
import type { DecisionLog } from '../src/domain/results';
import { escalationLadder } from '../src/routing/ladder';
import type { CircuitBreakerOptions } from '../src/providers/circuitBreaker';
import { createRouterWorker } from '../src/worker/createWorker';
import { wireActivityDeps } from '../src/worker/wiring';
import { RoutingToEndClient } from './helpers/routerClient';
import { catalogWithJudges, defaultPolicies } from './helpers/catalog';
import { ANSWER_USAGE } from './helpers/loopbackRouter';
import { chatCompletion, startOpenAIServer, type OpenAIServer } from './helpers/openaiServer';
import { devServerEnv, timeSkippingEnv, workflowBundle } from './helpers/temporal';

const catalog = catalogWithJudges('openai', ['judge-model', 'judge-b']);
const model = (id: string): ModelSpec => catalog.models.find((m) => m.id === id)!;
const JUDGE_B_USAGE = { prompt_tokens: 200, completion_tokens: 20 };

/** The primary judge answers 500 forever; judge-b and the three tiers answer (judge-b scores every answer 10). */
function startOutage(): Promise<OpenAIServer> {
  return startOpenAIServer((body) => {
    if (body.model === 'judge-model') return { status: 500, json: { error: { message: 'The server had an error while processing your request.' } } };
    if (body.model === 'judge-b') return { json: chatCompletion('judge-b', JSON.stringify({ score: 10, reason: 'right' }), JUDGE_B_USAGE) };
    return { json: chatCompletion(body.model, `answer from ${body.model}`, ANSWER_USAGE) };
  });
}

/** A worker wired as production wires it (breakers included), with the judge on judge-model. */
async function routeWith(
  env: TestWorkflowEnvironment,
  server: OpenAIServer,
  taskQueue: string,
  options: { onJudgeUnavailable?: JudgeUnavailable; circuitBreaker?: CircuitBreakerOptions; earlyReturn?: boolean },
  requestIds: string[],
): Promise<DecisionLog[]> {
  const policies = defaultPolicies({ gate: { threshold: 0.95, ...(options.onJudgeUnavailable ? { onJudgeUnavailable: options.onJudgeUnavailable } : {}) } });
  const config = { catalog, policies, strategyEnv: fileStrategyEnv(escalationLadder(catalog.models)) };
  const wiring = await wireActivityDeps(
    config,
    { OPENAI_BASE_URL: server.baseUrl, MODEL_ROUTER_JUDGE_MODEL: 'judge-model' },
    { decisionLogPath: ':memory:', ...(options.circuitBreaker ? { circuitBreaker: options.circuitBreaker } : {}) },
  );
  const worker = await createRouterWorker({ connection: env.nativeConnection, taskQueue, workflows: { bundle: await workflowBundle() }, deps: wiring.deps });
  const router = new RoutingToEndClient({ client: env.client, taskQueue });
  try {
    // One after the other: each request meets the breaker the previous ones left behind.
    return await worker.runUntil(async () => {
      const logs: DecisionLog[] = [];
      for (const requestId of requestIds) logs.push(await router.route(classification(requestId), { earlyReturn: options.earlyReturn ?? true }));
      return logs;
    });
  } finally {
    await wiring.close();
  }
}

function classification(requestId: string): RouteRequestInput {
  return { requestId, prompt: `Classify the intent of ticket ${requestId}: "Where is my parcel?"`, taskType: 'classification' };
}

/** Calls the server saw for one request (its prompt is inside every model and judge call), by model. */
function callsFor(server: OpenAIServer, requestId: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const call of server.calls) {
    if (!call.messages.some((m) => m.content.includes(classification(requestId).prompt))) continue;
    counts[call.model] = (counts[call.model] ?? 0) + 1;
  }
  return counts;
}

const smallCallUsd = priceTokens(model('small-model'), ANSWER_USAGE.prompt_tokens, ANSWER_USAGE.completion_tokens);

describe('a judge that is down, on the Temporal dev server', () => {
  let env: TestWorkflowEnvironment;
  let server: OpenAIServer;

  before(async () => {
    [env, server] = await Promise.all([devServerEnv(), startOutage(), workflowBundle()]);
  });
  after(async () => {
    await server?.close();
    await env?.teardown();
  });

  it('keep-unjudged: the routed answer is kept unjudged at its own price, and the open breaker spares the judge', { timeout: 60_000 }, async () => {
    const ids = ['keep-1', 'keep-2', 'keep-3'];
    const logs = await routeWith(env, server, 'judge-keep', { onJudgeUnavailable: 'keep-unjudged', circuitBreaker: { failureThreshold: 2, windowMs: 60_000, coolDownMs: 600_000 } }, ids);

    for (const log of logs) {
      assert.deepEqual(
        log.attempts.map((a) => [a.model, a.verdict?.passed, a.verdict?.unjudged, a.verdict?.score]),
        [['small-model', true, true, 0.95]],
        `${log.requestId} stays on the routed model`,
      );
      assert.equal(log.finalModel, 'small-model');
      assert.equal(log.costUsd, smallCallUsd, `${log.requestId} costs the routed model's call and nothing else`);
    }
    // One judge call per request while the circuit is closed; it opens on the second failure.
    assert.deepEqual(ids.map((id) => callsFor(server, id)), [
      { 'small-model': 1, 'judge-model': 1 },
      { 'small-model': 1, 'judge-model': 1 },
      { 'small-model': 1 },
    ]);
    assert.match(logs[0]!.attempts[0]!.verdict!.reasons[0]!, /^judge unavailable: openai: provider unavailable, HTTP 500/);
    assert.match(logs[2]!.attempts[0]!.verdict!.reasons[0]!, /circuit breaker for judge-model is open after 2 consecutive failures/);
  });

  it('failover: the second judge grades the answer, which is kept on the routed model', { timeout: 60_000 }, async () => {
    const [log] = await routeWith(env, server, 'judge-failover', { onJudgeUnavailable: { failover: 'judge-b' } }, ['failover-1']);

    assert.deepEqual(callsFor(server, 'failover-1'), { 'small-model': 1, 'judge-model': 1, 'judge-b': 1 });
    const verdict = log!.attempts[0]!.verdict!;
    assert.deepEqual({ passed: verdict.passed, score: verdict.score, unjudged: verdict.unjudged }, { passed: true, score: 1, unjudged: undefined });
    assert.match(verdict.evaluator, /failover judge-b$/);
    assert.equal(log!.finalModel, 'small-model');
    const judgeBUsd = priceTokens(model('judge-b'), JUDGE_B_USAGE.prompt_tokens, JUDGE_B_USAGE.completion_tokens);
    assert.ok(Math.abs(log!.costUsd - (smallCallUsd + judgeBUsd)) < 1e-15, `cost ${log!.costUsd} is the routed call plus one judge-b call`);
  });
});

describe('a judge that is down, with the default policy (escalate), on the time-skipping server', () => {
  let env: TestWorkflowEnvironment;
  let server: OpenAIServer;

  before(async () => {
    [env, server] = await Promise.all([timeSkippingEnv(), startOutage(), workflowBundle()]);
  });
  after(async () => {
    await server?.close();
    await env?.teardown();
  });

  it('still climbs the ladder, but the breaker stops the judge calls after one retry budget', { timeout: 60_000 }, async () => {
    // The test server skips time (the judge's retry back-offs here) only while a client waits on a workflow's
    // result, not on an update: this test waits for the end.
    const [first, second] = await routeWith(env, server, 'judge-escalate', { earlyReturn: false }, ['escalate-1', 'escalate-2']);

    for (const log of [first!, second!]) {
      assert.deepEqual(log.attempts.map((a) => a.model), ['small-model', 'medium-model', 'large-model']);
      assert.equal(log.finalModel, 'large-model');
    }
    // Without the breaker: 5 attempts on each of the 3 rungs, 15 judge calls per request.
    assert.equal(callsFor(server, 'escalate-1')['judge-model'], 5);
    assert.equal(callsFor(server, 'escalate-2')['judge-model'], undefined, 'the open circuit makes no judge call');
    assert.match(second!.attempts[0]!.error ?? '', /circuit breaker for judge-model is open/);
  });
});

describe('gate.onJudgeUnavailable at start-up', () => {
  it('refuses a failover judge that is not in the catalog, and a choice it does not know, naming the field', async () => {
    const policies = defaultPolicies({ gate: { threshold: 0.95, onJudgeUnavailable: { failover: 'gpt-5-judge' } } });
    const config = { catalog, policies, strategyEnv: fileStrategyEnv(escalationLadder(catalog.models)) };
    await assert.rejects(
      () => wireActivityDeps(config, { OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' }, { decisionLogPath: ':memory:' }),
      /routing policy "default": gate\.onJudgeUnavailable\.failover: "gpt-5-judge" is not in the catalog/,
    );
    assert.throws(() => defaultPolicies({ gate: { threshold: 0.95, onJudgeUnavailable: 'shrug' as JudgeUnavailable } }), /onJudgeUnavailable/);
  });
});
