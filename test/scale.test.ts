import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import OpenAI from 'openai';
import pg from 'pg';
import { RouterClient } from '../src/client';
import { toNano } from '../src/budget/ledger';
import { DEMO_REQUESTS } from '../src/demo/requests';
import type { RouteRequestInput } from '../src/domain/request';
import type { DecisionLog } from '../src/domain/results';
import { routeWorkflowId } from '../src/domain/workflowIds';
import { loadTenantsFile, writeTenantsFile } from '../src/gateway/tenants';
import { startLocalServer, type LocalServer } from '../src/servers/localServer';
import { runCli } from './helpers/cli';
import { startPostgres, type TestPostgres } from './helpers/postgres';

/*
 * Running at scale, as deployed: one Temporal server, one PostgreSQL decision log, two `model-router worker`
 * processes and two `model-router serve` gateways, all real processes started from the built CLI. 200 requests go
 * through the official openai client, spread over both gateways; one worker is killed (SIGKILL) halfway. Then: every
 * HTTP call answered once, one row per request, one completed run per request, and the tenant's budget charged
 * exactly what the rows say was spent, with nothing left reserved.
 */

const CLI = join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
const TENANT = 'scale';
const TASK_QUEUE = `scale-test-${process.pid}`;
const REQUESTS = 200;
const CONCURRENCY = 24;
const KILL_AFTER_ANSWERS = 100;
/** The simulated models sleep a quarter of their latency profiles: calls of ~0.1-1 s, so many are in flight at the kill. */
const LATENCY_SCALE = '0.25';

const dir = mkdtempSync(join(tmpdir(), 'scale-test-'));
const children: ChildProcess[] = [];
let server: LocalServer;
let postgres: TestPostgres;
let decisionLogUrl: string;

/** The environment of a deployed process: nothing of this shell's router or Temporal settings leaks in. */
function deployedEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(MODEL_ROUTER_|TEMPORAL_|OPENAI_)/.test(k)));
  return { ...env, MODEL_ROUTER_TASK_QUEUE: TASK_QUEUE, MODEL_ROUTER_CONTENT_DIR: join(dir, 'content'), ...extra };
}

interface Started {
  child: ChildProcess;
  output: () => string;
}

/** A built-CLI command in its own process, resolved once `ready` matches its output (stdout and stderr). */
async function startCli(name: string, args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<Started> {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  const exited = once(child, 'exit');
  const seen = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready within 60 s:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(([code, signal]) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${output}`));
    });
  });
  await seen;
  return { child, output: () => output };
}

const workerIdentity = (child: ChildProcess) => `${child.pid}@${hostname()}`;

/** A demo request as an OpenAI chat completion: its turns as messages, its fields as metadata, its schema as response_format. */
function chatBody(request: RouteRequestInput): OpenAI.Chat.ChatCompletionCreateParamsNonStreaming {
  const metadata: Record<string, string> = {};
  if (request.taskType) metadata.taskType = request.taskType;
  if (request.domain) metadata.domain = request.domain;
  if (request.fieldCount !== undefined) metadata.fieldCount = String(request.fieldCount);
  if (request.customerTier) metadata.customerTier = request.customerTier;
  if (request.timeSensitivity) metadata.timeSensitivity = request.timeSensitivity;
  const history = (request.history ?? []).map((t) => ({ role: t.role, content: t.content }) as OpenAI.Chat.ChatCompletionMessageParam);
  return {
    model: 'router',
    messages: [...history, { role: 'user', content: request.prompt }],
    metadata,
    ...(request.outputSchema && { response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: request.outputSchema as unknown as Record<string, unknown> } } }),
  };
}

interface Call {
  requestId: string;
  gateway: number;
  startedAt: number;
  answeredAt?: number;
  content?: string;
  model?: string;
  headerRequestId?: string | null;
  headerWorkflowId?: string | null;
  headerCostUsd?: number;
  error?: string;
}

let workers: Started[];
let gatewayUrls: string[];
let key: string;
let killedAt = 0;
let killedIdentity = '';
let survivorIdentity = '';
const calls: Call[] = [];
const timings: Record<string, number> = {};

before(async () => {
  const t0 = Date.now();
  [server, postgres] = await Promise.all([startLocalServer({ logFile: join(dir, 'temporal.log') }), startPostgres()]);
  decisionLogUrl = await postgres.createDatabase('scale');
  timings.serversMs = Date.now() - t0;

  // The tenant and key as a user makes them (`keys add`), then its budget and rate limit set in the file.
  const tenantsPath = join(dir, 'tenants.json');
  const added = await runCli(['keys', 'add', '--tenant', TENANT, '--label', 'scale-test', '--tenants', tenantsPath], { env: deployedEnv({}) });
  assert.equal(added.code, 0, added.stderr);
  key = added.stdout.trim();
  const file = loadTenantsFile(tenantsPath);
  // 200 requests in under a minute need more than the default 60 a minute; $50 a day covers far more than they cost.
  writeTenantsFile(tenantsPath, { tenants: file.tenants.map((t) => ({ ...t, rateLimit: { requestsPerMinute: 60_000, burst: 1_000 }, budget: { dailyUsd: 50, monthlyUsd: 500 } })) });
  assert.equal(readFileSync(tenantsPath, 'utf8').includes(key), false, 'the tenants file keeps the hash, never the key');

  const workerEnv = deployedEnv({ TEMPORAL_ADDRESS: server.address, MODEL_ROUTER_DECISION_LOG: decisionLogUrl, MODEL_ROUTER_SIM_LATENCY_SCALE: LATENCY_SCALE });
  const gatewayEnv = deployedEnv({});
  const serve = ['serve', '--address', server.address, '--tenants', tenantsPath, '--port', '0', '--timeout-ms', '120000'];
  const t1 = Date.now();
  const [w1, w2, g1, g2] = await Promise.all([
    startCli('worker 1', ['worker'], workerEnv, /model-router worker polling/),
    startCli('worker 2', ['worker'], workerEnv, /model-router worker polling/),
    startCli('gateway 1', serve, gatewayEnv, /Readiness:/),
    startCli('gateway 2', serve, gatewayEnv, /Readiness:/),
  ]);
  workers = [w1, w2];
  gatewayUrls = [g1, g2].map((g) => /Gateway: +(http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(g.output())![1]!);
  // The gateways may have come up before the workers polled: wait until both say ready.
  for (const url of gatewayUrls) {
    for (let i = 0; ; i++) {
      const ready = await fetch(`${url.replace(/\/v1$/, '')}/readyz`);
      if (ready.status === 200) break;
      if (i > 200) throw new Error(`gateway ${url} never ready: ${await ready.text()}`);
      await sleep(100);
    }
  }
  timings.processesMs = Date.now() - t1;
});

after(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
  await server?.teardown();
  await postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('running at scale: two workers, two gateways, one worker killed halfway', () => {
  it('answers all 200 calls once, writes one row each, completes one run each, and charges the budget exactly the rows', async () => {
    const clients = gatewayUrls.map((baseURL) => new OpenAI({ baseURL, apiKey: key, maxRetries: 0, timeout: 120_000 }));
    const killed = workers[0]!;
    killedIdentity = workerIdentity(killed.child);
    survivorIdentity = workerIdentity(workers[1]!.child);
    const killedExit = once(killed.child, 'exit');
    let answered = 0;
    let next = 0;
    const t0 = Date.now();

    const runOne = async (i: number) => {
      const request = DEMO_REQUESTS[i % DEMO_REQUESTS.length]!;
      const call: Call = { requestId: `scale-${i}`, gateway: i % 2, startedAt: Date.now() };
      calls.push(call);
      try {
        const { data, response } = await clients[call.gateway]!.chat.completions.create(chatBody(request), { headers: { 'Idempotency-Key': call.requestId } }).withResponse();
        call.answeredAt = Date.now();
        call.content = data.choices[0]?.message.content ?? undefined;
        call.model = data.model;
        call.headerRequestId = response.headers.get('x-router-request-id');
        call.headerWorkflowId = response.headers.get('x-router-workflow-id');
        call.headerCostUsd = Number(response.headers.get('x-router-cost-usd'));
      } catch (err) {
        call.error = err instanceof Error ? err.message : String(err);
      }
      answered += 1;
      if (answered === KILL_AFTER_ANSWERS) {
        // As a crashed host dies: no shutdown, no goodbye to the server, its calls and cached runs lost.
        killedAt = Date.now();
        killed.child.kill('SIGKILL');
      }
    };
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < REQUESTS) await runOne(next++);
      }),
    );
    timings.requestsMs = Date.now() - t0;
    const [, signal] = await killedExit;
    assert.equal(signal, 'SIGKILL', 'the first worker died of the kill');

    // Every HTTP call got one successful answer, naming its request and workflow.
    assert.deepEqual(calls.filter((c) => c.error).map((c) => `${c.requestId}: ${c.error}`), [], 'no call failed');
    assert.equal(calls.length, REQUESTS);
    assert.equal(new Set(calls.map((c) => c.requestId)).size, REQUESTS);
    for (const call of calls) {
      assert.equal(call.headerRequestId, call.requestId);
      assert.equal(call.headerWorkflowId, routeWorkflowId(TENANT, call.requestId));
      assert.ok(call.content && call.content.length > 0, `${call.requestId} has an answer`);
    }
    assert.deepEqual([0, 1].map((g) => calls.filter((c) => c.gateway === g).length), [REQUESTS / 2, REQUESTS / 2], 'both gateways served half');

    // The kill came mid-run: calls already in flight when it came were answered after it.
    const spanningKill = calls.filter((c) => c.startedAt < killedAt && c.answeredAt! > killedAt);
    assert.ok(spanningKill.length >= 1, 'some calls started before the kill were answered after it');
    const afterKill = calls.filter((c) => c.answeredAt! > killedAt).length;
    assert.ok(afterKill >= REQUESTS - KILL_AFTER_ANSWERS, `${afterKill} calls answered after the kill`);

    // Each request's run: exactly one, completed, its result the answer the caller got.
    const router = new RouterClient({ client: server.client, taskQueue: TASK_QUEUE });
    const logs = new Map<string, DecisionLog>();
    for (const call of calls) {
      const log = (await server.client.workflow.getHandle(routeWorkflowId(TENANT, call.requestId)).result()) as DecisionLog;
      assert.equal(log.answer, call.content, `${call.requestId}: the caller got the run's answer`);
      assert.equal(log.finalModel, call.model);
      assert.ok(Math.abs(call.headerCostUsd! - log.costUsd) < 1e-12, `${call.requestId}: x-router-cost-usd ${call.headerCostUsd} is the run's cost ${log.costUsd}`);
      logs.set(call.requestId, log);
    }
    timings.completedMs = Date.now() - t0;
    const runs: WorkflowExecutionInfo[] = [];
    for (let i = 0; i < 100; i++) {
      runs.length = 0;
      for await (const run of server.client.workflow.list({ query: `WorkflowType = 'routeRequest' AND Tenant = '${TENANT}'` })) runs.push(run);
      if (runs.length >= REQUESTS && runs.every((r) => r.status.name !== 'RUNNING')) break;
      await sleep(100); // visibility is updated a moment after a run closes
    }
    assert.equal(runs.length, REQUESTS, 'one run per request, none repeated');
    assert.equal(new Set(runs.map((r) => r.workflowId)).size, REQUESTS);
    assert.deepEqual([...new Set(runs.map((r) => r.status.name))], ['COMPLETED']);
    assert.deepEqual(new Set(runs.map((r) => r.workflowId)), new Set(calls.map((c) => routeWorkflowId(TENANT, c.requestId))));

    // Both workers ran these requests, and the killed one lost work that a live worker then redid: a workflow task
    // it had taken timed out, or an activity of its ran again as a later attempt. Every activity it held (model calls,
    // budget reserves and settles alike) heartbeats, so each was retried after the heartbeat timeout (5 s) rather
    // than its start-to-close timeout (30 s for a reserve).
    const { EventType } = temporal.api.enums.v1;
    const eventMs = (e: temporal.api.history.v1.IHistoryEvent) => Number(e.eventTime!.seconds) * 1000 + Math.round((e.eventTime!.nanos ?? 0) / 1e6);
    const identities = new Set<string>();
    const redone = new Set<string>();
    const retried: { requestId: string; activity: string; afterKillMs: number }[] = [];
    /** Scheduled to completed, per activity type (for the figures printed below). */
    const scheduledToCompletedMs: Record<string, number[]> = {};
    for (const call of calls) {
      const history = await server.client.workflow.getHandle(routeWorkflowId(TENANT, call.requestId)).fetchHistory();
      const activityType = new Map<number, string>();
      const scheduledAt = new Map<number, number>();
      for (const event of history.events ?? []) {
        const scheduled = event.activityTaskScheduledEventAttributes;
        if (scheduled) activityType.set(Number(event.eventId), scheduled.activityType!.name!);
        if (scheduled) scheduledAt.set(Number(event.eventId), eventMs(event));
        const completed = event.activityTaskCompletedEventAttributes;
        if (completed) (scheduledToCompletedMs[activityType.get(Number(completed.scheduledEventId))!] ??= []).push(eventMs(event) - scheduledAt.get(Number(completed.scheduledEventId))!);
        const started = event.activityTaskStartedEventAttributes;
        const identity = event.workflowTaskStartedEventAttributes?.identity ?? started?.identity;
        if (identity) identities.add(identity);
        if (event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT) redone.add(call.requestId);
        if (started && (started.attempt ?? 1) > 1) {
          redone.add(call.requestId);
          retried.push({ requestId: call.requestId, activity: activityType.get(Number(started.scheduledEventId))!, afterKillMs: eventMs(event) - killedAt });
        }
      }
    }
    assert.ok(identities.has(killedIdentity), `the killed worker (${killedIdentity}) ran some of them`);
    assert.ok(identities.has(survivorIdentity), `the other worker (${survivorIdentity}) ran some of them`);
    assert.ok(redone.size >= 1, 'the kill interrupted work in progress, which another worker redid');
    const late = retried.filter((r) => r.afterKillMs > 20_000);
    assert.deepEqual(late, [], 'every activity the kill interrupted was retried within 20 s of it');

    // One decision-log row per request in PostgreSQL, each the run's own.
    const db = new pg.Client({ connectionString: decisionLogUrl });
    await db.connect();
    let rows: { request_id: string; tenant: string; workflow_id: string; cost_usd: number; judge_cost_usd: number; possibly_billed_usd: number }[];
    let attempts: { request_id: string; cost_usd: number; judge_cost_usd: number }[];
    try {
      rows = (await db.query('SELECT request_id, tenant, workflow_id, cost_usd, judge_cost_usd, possibly_billed_usd FROM decision_log')).rows;
      attempts = (await db.query('SELECT request_id, cost_usd, judge_cost_usd FROM decision_attempt')).rows;
    } finally {
      await db.end();
    }
    assert.equal(rows.length, REQUESTS, 'one row per request');
    assert.deepEqual(new Set(rows.map((r) => r.request_id)), new Set(calls.map((c) => c.requestId)));
    for (const row of rows) {
      const log = logs.get(row.request_id)!;
      assert.equal(row.tenant, TENANT);
      assert.equal(row.workflow_id, routeWorkflowId(TENANT, row.request_id));
      assert.equal(Number(row.cost_usd), log.costUsd);
      assert.equal(Number(row.possibly_billed_usd), 0, 'the simulated provider bills nothing for a lost call');
    }
    assert.equal(attempts.length, [...logs.values()].reduce((n, l) => n + l.attempts.length, 0), 'one attempt row per attempt');

    // The budget: every call settled (model calls and judges, each its own settle rounded to a nano-dollar), so the
    // day's spend is the rows' calls summed, nothing is still reserved and nothing expired at its worst case.
    const budget = await router.getBudget(TENANT);
    const rowsNano = attempts.reduce((n, a) => n + toNano(Number(a.cost_usd)) + toNano(Number(a.judge_cost_usd)), 0);
    assert.ok(rowsNano > 0, 'the requests cost something');
    assert.equal(toNano(budget.day.spentUsd), rowsNano, `settled ${budget.day.spentUsd} USD = the rows' ${rowsNano / 1e9} USD`);
    assert.ok(Math.abs(budget.day.spentUsd - rows.reduce((s, r) => s + Number(r.cost_usd), 0)) < 1e-9 * REQUESTS, "and the rows' cost_usd summed");
    assert.deepEqual(budget.reservations, [], 'no reservation left open');
    assert.equal(budget.day.reservedUsd, 0);
    assert.equal(budget.counters.expired, 0, 'no reservation expired at its worst case');
    // A judge that reserved nothing (it bills nothing) yet cost something settles under an id of its own ("unknown").
    assert.equal(budget.counters.settled - budget.counters.unknownSettles, budget.counters.reserved, 'every reservation settled once');
    assert.equal(budget.counters.lateSettles, 0);

    timings.totalMs = Date.now() - t0;
    console.log(
      JSON.stringify({
        requests: REQUESTS,
        concurrency: CONCURRENCY,
        ...timings,
        answeredAfterKill: afterKill,
        inFlightAtKill: spanningKill.length,
        redoneAfterKill: redone.size,
        retriedActivities: Object.fromEntries([...new Set(retried.map((r) => r.activity))].map((a) => [a, retried.filter((r) => r.activity === a).length])),
        lastRetryAfterKillMs: Math.max(0, ...retried.map((r) => r.afterKillMs)),
        activityMs: Object.fromEntries(
          Object.entries(scheduledToCompletedMs).map(([name, ms]) => {
            const sorted = [...ms].sort((a, b) => a - b);
            return [name, { p50: sorted[Math.floor(sorted.length / 2)], p95: sorted[Math.floor(sorted.length * 0.95)], max: sorted.at(-1) }];
          }),
        ),
        workflowTaskNotFoundWarnings: workers.reduce((n, w) => n + (w.output().match(/Workflow task not found/g)?.length ?? 0), 0),
        killToLastAnswerMs: Math.max(...calls.map((c) => c.answeredAt!)) - killedAt,
        slowestSpanningCallMs: Math.max(...spanningKill.map((c) => c.answeredAt! - c.startedAt)),
        attempts: attempts.length,
        escalated: [...logs.values()].filter((l) => l.wasEscalated).length,
        spentUsd: budget.day.spentUsd,
        budget: budget.counters,
      }),
    );
  });
});
