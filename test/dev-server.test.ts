import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ActivityDeps } from '../src/activities';
import { DecisionLogStore } from '../src/analytics/decisionLogStore';
import type { DecisionLogSink } from '../src/domain/results';
import { startPostgres } from './helpers/postgres';
import { RouterClient, routeWorkflowId } from '../src/client';
import { INLINE_CONTENT_LIMIT, MAX_CONTENT_CHARS, type RouteRequestInput } from '../src/domain/request';
import { FileContentStore } from '../src/claimCheck/contentStore';
import { RoutingToEndClient } from './helpers/routerClient';
import { defaultPolicies } from './helpers/catalog';
import { createRouterWorker } from '../src/worker/createWorker';
import { CostUsd, Escalated, FinalModel, QualityScore, RoutedModel, RoutingStrategy, Tenant } from '../src/workflows/searchAttributes';
import { legacyRouteWorkflowId } from '../src/domain/workflowIds';
import { ValidationError } from '../src/domain/validation';
import { HARD_MARKER, judgedModels, loopbackDeps } from './helpers/loopbackRouter';
import { startOpenAIServer, type OpenAIServer } from './helpers/openaiServer';
import { devServerEnv, workflowBundle } from './helpers/temporal';

/** Visibility on the dev server lags the workflow by a moment: ask again until `done`, for at most 10 s. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 10_000;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    value = await read();
  }
  return value;
}

async function listRuns(client: Client, query: string): Promise<{ workflowId: string; runId: string; status: string }[]> {
  const runs: { workflowId: string; runId: string; status: string }[] = [];
  for await (const run of client.workflow.list({ query })) runs.push({ workflowId: run.workflowId, runId: run.runId, status: run.status.name });
  return runs;
}

describe('routeRequest on the Temporal dev server', () => {
  let env: TestWorkflowEnvironment;
  let server: OpenAIServer;
  const tempDirs: string[] = [];
  const stores: DecisionLogStore[] = [];

  before(async () => {
    [env, server] = await Promise.all([devServerEnv(), startOpenAIServer(judgedModels()), workflowBundle()]);
  });
  after(async () => {
    for (const store of stores) await store.close();
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
    await server?.close();
    await env?.teardown();
  });

  /** A worker on its own task queue for the duration of `work`; each test gets a queue so visibility queries stay apart. */
  async function withWorker<T>(taskQueue: string, work: (router: RouterClient) => Promise<T>, deps: Partial<ActivityDeps> = {}): Promise<T> {
    const worker = await createRouterWorker({
      connection: env.nativeConnection,
      taskQueue,
      workflows: { bundle: await workflowBundle() },
      deps: loopbackDeps(server.baseUrl, deps),
    });
    return worker.runUntil(work(new RoutingToEndClient({ client: env.client, taskQueue })));
  }

  /** Calls the loopback server saw for one request (its prompt is in every model and judge call), by model. */
  function callsFor(request: RouteRequestInput): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const call of server.calls) {
      if (!call.messages.some((m) => m.content.includes(request.prompt))) continue;
      counts[call.model] = (counts[call.model] ?? 0) + 1;
    }
    return counts;
  }

  it('indexes escalated runs and describes each run with its routing and cost', { timeout: 60_000 }, async () => {
    const taskQueue = 'search-attributes';
    const requests: RouteRequestInput[] = [
      { requestId: 'sa-hard-1', prompt: `${HARD_MARKER} Classify the intent: "cancel my order, it never shipped"`, taskType: 'classification' },
      { requestId: 'sa-plain-1', prompt: 'Classify the intent: "where is my parcel?"', taskType: 'classification' },
      { requestId: 'sa-hard-2', prompt: `${HARD_MARKER} Classify the sentiment: "fine, I guess"`, taskType: 'classification' },
      { requestId: 'sa-reasoning', prompt: 'If a train leaves at 3 and takes 2 hours, when does it arrive? Think step by step.', taskType: 'reasoning' },
    ];
    const logs = await withWorker(taskQueue, (router) => Promise.all(requests.map((r) => router.route(r))));
    const byId = new Map(logs.map((log) => [log.workflowId, log]));
    assert.deepEqual(
      logs.map((l) => [l.requestId, l.selectedModel, l.finalModel, l.wasEscalated]),
      [
        ['sa-hard-1', 'small-model', 'medium-model', true],
        ['sa-plain-1', 'small-model', 'small-model', false],
        ['sa-hard-2', 'small-model', 'medium-model', true],
        ['sa-reasoning', 'large-model', 'large-model', false],
      ],
    );

    const escalatedIds = [routeWorkflowId('default', 'sa-hard-1'), routeWorkflowId('default', 'sa-hard-2')].sort();
    const escalated = await eventually(
      () => listRuns(env.client, `TaskQueue = '${taskQueue}' AND Escalated = true`),
      (runs) => runs.length >= escalatedIds.length,
    );
    assert.deepEqual(escalated.map((r) => r.workflowId).sort(), escalatedIds);
    const notEscalated = await eventually(
      () => listRuns(env.client, `TaskQueue = '${taskQueue}' AND Escalated = false`),
      (runs) => runs.length >= 2,
    );
    assert.deepEqual(notEscalated.map((r) => r.workflowId).sort(), [routeWorkflowId('default', 'sa-plain-1'), routeWorkflowId('default', 'sa-reasoning')].sort());
    const cheapEscalations = await eventually(
      () => listRuns(env.client, `TaskQueue = '${taskQueue}' AND RoutedModel = 'small-model' AND FinalModel = 'medium-model'`),
      (runs) => runs.length >= escalatedIds.length,
    );
    assert.deepEqual(cheapEscalations.map((r) => r.workflowId).sort(), escalatedIds);

    for (const workflowId of [routeWorkflowId('default', 'sa-hard-1'), routeWorkflowId('default', 'sa-reasoning')]) {
      const log = byId.get(workflowId)!;
      const description = await env.client.workflow.getHandle(workflowId).describe();
      const attrs = description.typedSearchAttributes;
      assert.equal(attrs.get(RoutedModel), log.selectedModel, `${workflowId} RoutedModel`);
      assert.equal(attrs.get(FinalModel), log.finalModel, `${workflowId} FinalModel`);
      assert.equal(attrs.get(RoutingStrategy), log.strategy, `${workflowId} RoutingStrategy`);
      assert.equal(attrs.get(Escalated), log.wasEscalated, `${workflowId} Escalated`);
      assert.equal(attrs.get(QualityScore), log.qualityScore, `${workflowId} QualityScore`);
      assert.equal(attrs.get(CostUsd), log.costUsd, `${workflowId} CostUsd`);
      assert.ok(log.costUsd > 0);

      const summary = await description.staticSummary();
      assert.ok(summary, `${workflowId} has a static summary`);
      assert.ok(summary.includes(log.requestId) && summary.includes(log.requestFeatures.taskType), `summary "${summary}" names the request`);
    }

    // The Web UI's activity list tells why each model was called.
    const history = await env.client.workflow.getHandle(routeWorkflowId('default', 'sa-hard-1')).fetchHistory();
    const modelCallSummaries = (history.events ?? [])
      .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'callModel')
      .map((e) => (e.userMetadata?.summary ? defaultPayloadConverter.fromPayload<string>(e.userMetadata.summary) : undefined));
    assert.equal(modelCallSummaries.length, 2);
    assert.match(modelCallSummaries[0] ?? '', /^routed: small-model/);
    assert.match(modelCallSummaries[1] ?? '', /^escalation: medium-model — small-model scored 0\.3 below 0\.95/);
  });

  it('scopes runs by tenant: one requestId per tenant, listed by Tenant, old unscoped runs still read', { timeout: 60_000 }, async () => {
    const taskQueue = 'tenant-scoped';
    const prompt = 'Classify the intent: "my parcel is late"';
    const [acme, globex] = await withWorker(taskQueue, async (router) => {
      const logs = await Promise.all(['acme', 'globex'].map((tenant) => router.route({ requestId: 'shared-id', prompt, taskType: 'classification', tenant })));
      // A run started before ids were tenant-scoped, under `route-<requestId>` and with no Tenant attribute.
      await env.client.workflow.execute('routeRequest', {
        taskQueue,
        workflowId: legacyRouteWorkflowId('old-run'),
        args: [{ requestId: 'old-run', prompt, history: [], taskType: 'classification', domain: 'general', customerTier: 'standard', timeSensitivity: 'normal', tenant: 'default', policyId: 'default' }],
      });
      const old = await router.result('default', 'old-run');
      assert.equal(old.workflowId, 'route-old-run');
      await assert.rejects(router.result('acme', 'old-run'), /not found/i, "another tenant cannot read a default tenant's old run");
      assert.equal((await router.result('globex', 'shared-id')).workflowId, 'route-globex-shared-id');
      await assert.rejects(router.result('acme-corp', 'shared-id'), (err: unknown) => err instanceof ValidationError && /tenant.*no "-"/.test(err.message));
      return logs;
    });
    assert.deepEqual([acme!.workflowId, globex!.workflowId], [routeWorkflowId('acme', 'shared-id'), routeWorkflowId('globex', 'shared-id')]);
    assert.deepEqual([acme!.tenant, globex!.tenant], ['acme', 'globex']);
    const listed = await eventually(
      () => listRuns(env.client, `TaskQueue = '${taskQueue}' AND Tenant = 'globex'`),
      (runs) => runs.length >= 1,
    );
    assert.deepEqual(listed.map((r) => r.workflowId), ['route-globex-shared-id']);
    assert.equal((await env.client.workflow.getHandle('route-acme-shared-id').describe()).typedSearchAttributes.get(Tenant), 'acme');
  });

  it('routes a repeated requestId once, whether the first run has finished or is still running', { timeout: 60_000 }, async () => {
    const taskQueue = 'idempotency';
    const sequential: RouteRequestInput = { requestId: 'dup-after-finish', prompt: 'Classify the intent: "reset my password"', taskType: 'classification' };
    const concurrent: RouteRequestInput = { requestId: 'dup-concurrent', prompt: `${HARD_MARKER} Classify the intent: "refund, now"`, taskType: 'classification' };

    const { first, second, racing } = await withWorker(taskQueue, async (router) => {
      const first = await router.route(sequential);
      const second = await router.route(sequential);
      const racing = await Promise.all([router.route(concurrent), router.route(concurrent), router.route(concurrent)]);
      return { first, second, racing };
    });

    assert.deepEqual(second, first, 'a repeat of a finished request returns the first decision log');
    assert.deepEqual(callsFor(sequential), { 'small-model': 1, 'judge-model': 1 });

    assert.deepEqual(racing[1], racing[0]);
    assert.deepEqual(racing[2], racing[0]);
    assert.equal(racing[0]!.wasEscalated, true);
    assert.deepEqual(callsFor(concurrent), { 'small-model': 1, 'medium-model': 1, 'judge-model': 2 });

    for (const requestId of ['dup-after-finish', 'dup-concurrent']) {
      const runs = await eventually(
        () => listRuns(env.client, `WorkflowId = '${routeWorkflowId('default', requestId)}'`),
        (found) => found.some((r) => r.status === 'COMPLETED'),
      );
      assert.equal(runs.length, 1, `${requestId}: one run, got ${JSON.stringify(runs)}`);
      assert.equal(runs[0]!.status, 'COMPLETED');
    }
  });

  it('writes one decision-log row per request, with the cost the caller was given', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'router-decision-log-'));
    tempDirs.push(dir);
    const store = await DecisionLogStore.open(join(dir, 'nested', 'decisions.sqlite'));
    stores.push(store);
    const escalating: RouteRequestInput = { requestId: 'log-hard', prompt: `${HARD_MARKER} Classify: "is this spam?"`, taskType: 'classification' };
    const plain: RouteRequestInput = { requestId: 'log-plain', prompt: 'Classify: "hello there"', taskType: 'classification' };

    const [log, again, other] = await withWorker(
      'decision-log',
      async (router) => [await router.route(escalating), await router.route(escalating), await router.route(plain)] as const,
      { decisionLog: store },
    );

    assert.deepEqual(again, log);
    const row = (await store.get('log-hard'));
    assert.ok(row, 'the escalated request has a row');
    assert.equal(row.costUsd, log.costUsd);
    assert.deepEqual(row.attempts, log.attempts);
    assert.equal((await store.get('log-plain'))?.costUsd, other.costUsd);
    assert.equal((await store.count()), 2, 'the repeated requestId added no row');

    // A retried recordDecision activity writes the same log again; the store must not count it twice.
    await store.record(log);
    assert.equal((await store.count()), 2);
  });

  it('a decision-log write that committed but whose activity failed is retried into one row, on SQLite and PostgreSQL', { timeout: 90_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'router-retried-write-'));
    tempDirs.push(dir);
    const postgres = await startPostgres();
    try {
      for (const [name, location] of [['sqlite', join(dir, 'decisions.sqlite')], ['postgres', await postgres.createDatabase('retried')]] as const) {
        const store = await DecisionLogStore.open(location);
        stores.push(store);
        // The row commits, then the activity fails as if the worker died before reporting it: Temporal retries it.
        const writes: boolean[] = [];
        const flaky: DecisionLogSink = {
          async record(log) {
            const inserted = await store.record(log);
            writes.push(inserted);
            if (writes.length === 1) throw new Error('worker lost after the commit');
            return inserted;
          },
        };
        const request: RouteRequestInput = { requestId: `retried-write-${name}`, prompt: `${HARD_MARKER} Classify: "where is my refund?"`, taskType: 'classification' };
        const log = await withWorker(`retried-write-${name}`, (router) => router.route(request), { decisionLog: flaky });
        assert.deepEqual(writes, [true, false], `${name}: the retry found the row already written`);
        assert.equal(await store.count(), 1, name);
        const [row] = await store.requests();
        assert.equal(row!.costUsd, log.costUsd, name);
        assert.equal(row!.attempts.length, log.attempts.length, `${name}: one set of attempts`);
        assert.ok(log.attempts.length >= 2, 'the request escalated, so it has several attempts');
      }
    } finally {
      await postgres.stop();
    }
  });

  it('a 10 MB prompt completes through the claim-check: stored once, a history under 1 MB, the prompt hashed at rest', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'router-claim-check-'));
    tempDirs.push(dir);
    const store = await DecisionLogStore.open(join(dir, 'decisions.sqlite'));
    stores.push(store);
    const contentStore = new FileContentStore(join(dir, 'content'));
    const marker = 'needle-in-a-large-prompt';
    const prompt = `Summarise this log. ${marker}\n${'2026-12-02 INFO parcel QS-1182 scanned at depot 7\n'.repeat(200_000)}`;
    assert.ok(prompt.length > 10_000_000);
    const taskQueue = 'claim-check';
    const worker = await createRouterWorker({
      connection: env.nativeConnection,
      taskQueue,
      workflows: { bundle: await workflowBundle() },
      deps: loopbackDeps(server.baseUrl, { decisionLog: store, contentStore }),
    });
    const router = new RoutingToEndClient({ client: env.client, taskQueue, contentStore });
    const log = await worker.runUntil(router.route({ requestId: 'claim-check-10mb', prompt, taskType: 'summarization' }));

    assert.match(log.answer, /^answer from /);
    const called = server.calls.filter((c) => c.messages.some((m) => m.content.includes(marker)));
    assert.ok(called.some((c) => c.messages.at(-1)!.content === prompt), 'the model received the whole prompt');
    const history = JSON.stringify((await env.client.workflow.getHandle(routeWorkflowId('default', 'claim-check-10mb')).fetchHistory()).events);
    assert.ok(history.length < 1_000_000, `history is ${history.length} characters`);
    assert.ok(!history.includes(marker), 'the prompt is not in the history');
    assert.equal(readdirSync(join(dir, 'content')).length, 1, 'stored once');
    const row = (await store.get('claim-check-10mb'));
    assert.deepEqual(row?.prompt, { storage: 'hashed', sha256: createHash('sha256').update(prompt).digest('hex') });
  });

  it('refuses a request over the documented limit, and a large one without a content store, naming the field', async () => {
    const router = new RoutingToEndClient({ client: env.client, taskQueue: 'never-polled' });
    await assert.rejects(router.startRoute({ requestId: 'too-big', prompt: 'x'.repeat(MAX_CONTENT_CHARS + 1) }), /prompt: .*at most 16777216 characters/);
    await assert.rejects(router.startRoute({ requestId: 'no-store', prompt: 'x'.repeat(INLINE_CONTENT_LIMIT + 1) }), /prompt: .*need a content store/);
    for (const id of ['too-big', 'no-store']) {
      await assert.rejects(env.client.workflow.getHandle(routeWorkflowId('default', id)).describe(), /not found/i, `${id} was not started`);
    }
  });

  it('keeps prompts at rest as the policy says: plain text, or nothing', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'router-store-prompts-'));
    tempDirs.push(dir);
    const store = await DecisionLogStore.open(join(dir, 'decisions.sqlite'));
    stores.push(store);
    const policies = new Map([...defaultPolicies({ id: 'default-plain', storePrompts: 'plain' }), ...defaultPolicies({ id: 'default-none', storePrompts: 'none' })]);
    const prompt = 'Classify: "where is my parcel"';
    await withWorker(
      'store-prompts',
      async (router) => {
        await router.route({ requestId: 'prompt-plain', prompt, taskType: 'classification', policyId: 'default-plain' });
        await router.route({ requestId: 'prompt-none', prompt, taskType: 'classification', policyId: 'default-none' });
      },
      { decisionLog: store, policies },
    );
    assert.deepEqual((await store.get('prompt-plain'))?.prompt, { storage: 'plain', text: prompt });
    assert.equal((await store.get('prompt-none'))?.prompt, undefined);
  });
});
