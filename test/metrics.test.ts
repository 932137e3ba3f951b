import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createActivities } from '../src/activities';
import { priceTokens } from '../src/domain/cost';
import type { DecisionLog } from '../src/domain/results';
import { TASK_QUEUE } from '../src/domain/taskQueue';
import { freePort } from '../src/servers/localServer';
import { createRouterWorker } from '../src/worker/createWorker';
import { PrometheusRouterMetrics, serveMetrics } from '../src/worker/prometheus';
import { defaultPolicies, testCatalog } from './helpers/catalog';
import { runCli } from './helpers/cli';
import { ANSWER_USAGE, HARD_MARKER, JUDGE, judgedModels, loopbackDeps } from './helpers/loopbackRouter';
import { chatCompletion, startOpenAIServer, type OpenAIServer } from './helpers/openaiServer';
import { RoutingToEndClient } from './helpers/routerClient';
import { devServerEnv, workflowBundle } from './helpers/temporal';

const ROOT = join(__dirname, '..');

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text format's sample lines (comments and blank lines skipped). */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of match[2]?.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g) ?? []) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  return parseExposition(await res.text());
}

/** The sum of `name` over the samples whose labels include `where`. */
function total(samples: Sample[], name: string, where: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

/** Counts of `keys(item)` joined, for comparing a counter's label sets with what the logs say. */
function tally<T>(items: T[], key: (item: T) => string, weight: (item: T) => number = () => 1): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + weight(item));
  return counts;
}

function seriesOf(samples: Sample[], name: string, labels: string[]): Map<string, number> {
  return tally(samples.filter((s) => s.name === name && s.value !== 0), (s) => labels.map((l) => s.labels[l]).join('|'), (s) => s.value);
}

function closeTo(actual: Map<string, number>, expected: Map<string, number>, what: string): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${what}: label sets`);
  for (const [key, value] of expected) assert.ok(Math.abs(actual.get(key)! - value) < 1e-12, `${what} ${key}: ${actual.get(key)} ≠ ${value}`);
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, () => resolve(server));
  });
}

/** A port N with N+1 free as well: the router's metrics and the SDK's. */
async function freePortPair(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port >= 65534) continue;
    const next = await listen(port + 1).catch(() => undefined);
    if (!next) continue;
    await new Promise((resolve) => next.close(resolve));
    return port;
  }
}

describe('Prometheus metrics', () => {
  let env: TestWorkflowEnvironment;
  let openai: OpenAIServer;

  before(async () => {
    // small-model's first call answers 503, medium-model's first 429: one provider error of each kind, then answers.
    const models = judgedModels({
      script: {
        'small-model': (n) => (n === 1 ? { status: 503, json: { error: { message: 'overloaded' } } } : undefined),
        'medium-model': (n) => (n === 1 ? { status: 429, headers: { 'retry-after-ms': '50' }, json: { error: { message: 'slow down' } } } : undefined),
      },
    });
    [env, openai] = await Promise.all([devServerEnv(), startOpenAIServer(models), workflowBundle()]);
  });
  after(async () => {
    await openai?.close();
    await env?.teardown();
  });

  it('counts requests, cost, escalations, verdicts, call latencies and provider errors as the decision logs say', async () => {
    const metrics = new PrometheusRouterMetrics();
    const endpoint = await serveMetrics(metrics.registry, await freePort(), 'test metrics port');
    const policies = new Map([...defaultPolicies(), ...defaultPolicies({ id: 'second' })]);
    const taskQueue = 'metrics-in-process';
    const worker = await createRouterWorker({
      connection: env.nativeConnection,
      taskQueue,
      workflows: { bundle: await workflowBundle() },
      deps: loopbackDeps(openai.baseUrl, { metrics, policies }),
    });
    const router = new RoutingToEndClient({ client: env.client, taskQueue });
    const classify = (requestId: string, prompt: string, more: { tenant?: string; policyId?: string } = {}) =>
      router.route({ requestId, prompt: `Classify the intent of: "${prompt}"`, taskType: 'classification', ...more });
    let logs: DecisionLog[];
    let samples: Sample[];
    try {
      logs = await worker.runUntil(async () => [
        await classify('m-1', 'Where is my parcel?'),
        await classify('m-2', `${HARD_MARKER} Is this a refund or a complaint?`, { tenant: 'acme' }),
        await classify('m-3', 'Cancel my order', { tenant: 'acme', policyId: 'second' }),
        await classify('m-4', 'Change my address', { tenant: 'acme', policyId: 'second' }),
      ]);
      // Scraped after the worker stopped: nothing is in flight, every count is final.
      samples = await scrape(endpoint.url);
    } finally {
      await endpoint.close();
    }

    assert.equal(logs.filter((l) => l.wasEscalated).length, 1, 'the [hard] request escalated');
    closeTo(
      seriesOf(samples, 'model_router_requests_total', ['strategy', 'policy', 'tenant', 'final_model', 'escalated', 'passed', 'origin']),
      tally(logs, (l) => [l.strategy, l.policyId, l.tenant, l.finalModel, l.wasEscalated, l.passed, l.origin].join('|')),
      'requests',
    );
    assert.equal(total(samples, 'model_router_requests_total', { policy: 'second', tenant: 'acme' }), 2);

    const attempts = logs.flatMap((l) => l.attempts.map((a) => ({ ...a, log: l })));
    closeTo(
      seriesOf(samples, 'model_router_cost_usd_total', ['model', 'call', 'policy', 'tenant']),
      new Map([
        ...tally(attempts, (a) => [a.model, 'answer', a.log.policyId, a.log.tenant].join('|'), (a) => a.costUsd),
        ...tally(attempts.filter((a) => a.verdict && a.verdict.costUsd > 0), (a) => [a.model, 'judge', a.log.policyId, a.log.tenant].join('|'), (a) => a.verdict!.costUsd),
      ]),
      'cost',
    );
    // Every answer is 100 + 50 tokens: the small model's answers cost that many tokens at its price each.
    const small = testCatalog('openai').models[0]!;
    const smallAnswers = attempts.filter((a) => a.model === 'small-model').length;
    assert.ok(Math.abs(total(samples, 'model_router_cost_usd_total', { model: 'small-model', call: 'answer' }) - smallAnswers * priceTokens(small, ANSWER_USAGE.prompt_tokens, ANSWER_USAGE.completion_tokens)) < 1e-12);
    const allCost = logs.reduce((sum, l) => sum + l.costUsd, 0);
    assert.ok(Math.abs(total(samples, 'model_router_cost_usd_total') - allCost) < 1e-12, 'the cost counter adds up to the requests\' cost');
    const saved = logs.reduce((sum, l) => sum + l.costSavedUsd, 0);
    assert.ok(Math.abs(total(samples, 'model_router_best_model_cost_usd_total') - total(samples, 'model_router_cost_usd_total') - saved) < 1e-12, 'best − cost is the cost saved');

    assert.equal(total(samples, 'model_router_escalations_total'), logs.reduce((n, l) => n + l.escalations, 0));
    assert.equal(total(samples, 'model_router_escalations_total', { tenant: 'acme', policy: 'default' }), 1);

    closeTo(
      seriesOf(samples, 'model_router_gate_verdicts_total', ['model', 'verdict', 'evaluator']),
      tally(attempts.filter((a) => a.verdict), (a) => [a.model, a.verdict!.passed ? 'passed' : 'failed', a.verdict!.evaluator].join('|')),
      'verdicts',
    );
    assert.equal(total(samples, 'model_router_gate_verdicts_total', { model: 'small-model', verdict: 'failed' }), 1, 'the judge failed the small model once');

    // Every HTTP call to a model (not the judge) is one observation, the refused ones too.
    const modelCalls = openai.calls.filter((c) => c.model !== JUDGE.id);
    assert.equal(total(samples, 'model_router_model_call_duration_seconds_count'), modelCalls.length);
    assert.equal(total(samples, 'model_router_model_call_duration_seconds_count', { outcome: 'completed' }), attempts.length);
    assert.equal(total(samples, 'model_router_model_call_duration_seconds_count', { outcome: 'failed' }), 2);
    assert.equal(total(samples, 'model_router_model_call_duration_seconds_bucket', { model: 'small-model', outcome: 'completed', le: '+Inf' }), smallAnswers);
    assert.ok(total(samples, 'model_router_model_call_duration_seconds_sum') > 0);

    closeTo(
      seriesOf(samples, 'model_router_provider_errors_total', ['model', 'provider', 'kind']),
      new Map([['small-model|openai|unavailable', 1], ['medium-model|openai|rate-limited', 1]]),
      'provider errors',
    );
    assert.ok(total(samples, 'process_resident_memory_bytes') > 0, "Node's process metrics are there too");
  });

  it('a retried record counts its request once: only when the sink wrote the row', async () => {
    const written = new Set<string>();
    const sinks = {
      // What the decision-log store answers: true when it wrote the row, false when the row was there.
      reporting: { record: (log: DecisionLog) => (written.has(log.requestId) ? false : (written.add(log.requestId), true)) },
      // A sink that cannot tell (returns nothing): every call counts as written.
      silent: { record: async () => {} },
    };
    const log = { ...sampleLog(), requestId: 'retried' };
    for (const [name, sink] of Object.entries(sinks)) {
      const metrics = new PrometheusRouterMetrics({ processMetrics: false });
      const { recordDecision } = createActivities(loopbackDeps(openai.baseUrl, { decisionLog: sink, metrics }));
      await recordDecision(log);
      await recordDecision(log);
      const samples = parseExposition(await metrics.registry.metrics());
      const times = name === 'reporting' ? 1 : 2;
      assert.equal(total(samples, 'model_router_requests_total'), times, name);
      assert.ok(Math.abs(total(samples, 'model_router_cost_usd_total') - times * log.costUsd) < 1e-12, name);
      assert.equal(total(samples, 'model_router_escalations_total'), times * log.escalations, name);
    }
  });

  it('worker --metrics-port serves the router\'s metrics, and the Temporal SDK\'s on the next port', async () => {
    const port = await freePortPair();
    const dir = mkdtempSync(join(tmpdir(), 'router-metrics-'));
    const taskQueue = 'metrics-worker-process';
    const worker = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'cli', 'main.js'), 'worker', '--metrics-port', String(port)], {
      cwd: ROOT,
      env: { ...process.env, TEMPORAL_ADDRESS: env.address, MODEL_ROUTER_TASK_QUEUE: taskQueue, MODEL_ROUTER_DECISION_LOG: join(dir, 'decisions.db'), MODEL_ROUTER_SIM_LATENCY_SCALE: '0' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
    let stderr = '';
    const polling = new Promise<void>((resolve, reject) => {
      worker.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/polling "/.test(stderr)) resolve();
      });
      void exited.then(() => reject(new Error(`the worker exited: ${stderr}`)));
    });
    try {
      await polling;
      assert.match(stderr, new RegExp(`metrics at http://localhost:${port}/metrics, the Temporal SDK's at http://localhost:${port + 1}/metrics`));
      const log = await new RoutingToEndClient({ client: env.client, taskQueue }).route({ requestId: 'metrics-worker-1', prompt: 'Classify the intent of: "refund please"', taskType: 'classification' });
      const router = await scrape(`http://127.0.0.1:${port}/metrics`);
      assert.equal(total(router, 'model_router_requests_total', { final_model: log.finalModel, origin: 'simulated' }), 1);
      assert.ok(Math.abs(total(router, 'model_router_cost_usd_total') - log.costUsd) < 1e-12);
      const sdk = await scrape(`http://127.0.0.1:${port + 1}/metrics`);
      const names = new Set(sdk.map((s) => s.name));
      assert.ok([...names].every((n) => n.startsWith('temporal_')), 'only the SDK\'s metrics there');
      assert.ok(total(sdk, 'temporal_workflow_completed_total', { task_queue: taskQueue }) >= 1, `a completed workflow among ${[...names].join(', ')}`);
      assert.ok(total(sdk, 'temporal_activity_execution_latency_seconds_count', { task_queue: taskQueue }) >= 1, 'activity latencies, in seconds');
      worker.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`), 'the endpoint closed with the worker');
    } finally {
      worker.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('dev --metrics-port serves both as well, for its embedded server\'s worker', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'router-metrics-dev-'));
    const [port, uiPort, metricsPort] = [await freePort(), await freePort(), await freePortPair()];
    const dev = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'cli', 'main.js'), 'dev', '--port', String(port), '--ui-port', String(uiPort), '--db', join(dir, 'temporal.db'), '--metrics-port', String(metricsPort), '--gateway-port', '0'], {
      cwd: ROOT,
      env: { ...process.env, MODEL_ROUTER_DEV_SERVER_FILE: join(dir, 'dev-server.json'), MODEL_ROUTER_DECISION_LOG: join(dir, 'decisions.db'), MODEL_ROUTER_SIM_LATENCY_SCALE: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => dev.once('exit', (code) => resolve(code)));
    let output = '';
    const ready = new Promise<void>((resolve, reject) => {
      dev.stdout!.on('data', (d: Buffer) => {
        output += d.toString();
        if (/Ctrl-C to stop/.test(output)) resolve();
      });
      dev.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      void exited.then(() => reject(new Error(`dev exited: ${output}`)));
    });
    let connection: Connection | undefined;
    try {
      await ready;
      assert.match(output, new RegExp(`Metrics: +http://localhost:${metricsPort}/metrics \\(router\\), http://localhost:${metricsPort + 1}/metrics \\(Temporal SDK\\)`));
      connection = await Connection.connect({ address: `127.0.0.1:${port}` });
      const log = await new RoutingToEndClient({ client: new Client({ connection }), taskQueue: TASK_QUEUE }).route({ requestId: 'metrics-dev-1', prompt: 'Classify the intent of: "refund please"', taskType: 'classification' });
      const router = await scrape(`http://127.0.0.1:${metricsPort}/metrics`);
      assert.equal(total(router, 'model_router_requests_total', { final_model: log.finalModel }), 1);
      assert.equal(total(router, 'model_router_model_call_duration_seconds_count', { outcome: 'completed' }), log.attempts.length);
      const sdk = await scrape(`http://127.0.0.1:${metricsPort + 1}/metrics`);
      assert.ok(total(sdk, 'temporal_workflow_completed_total', { task_queue: TASK_QUEUE }) >= 1);
    } finally {
      await connection?.close();
      dev.kill('SIGINT');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a --metrics-port that is not a port, or is taken (its own or the SDK\'s next one), is a clear error and nothing starts', async () => {
    const env2 = { TEMPORAL_ADDRESS: env.address };
    for (const [args, message] of [
      [['worker', '--metrics-port', '0'], /--metrics-port: must be a port from 1 to 65534 .*got 0/],
      [['worker', '--metrics-port', '65535'], /--metrics-port: must be a port from 1 to 65534 .*got 65535/],
      [['worker', '--metrics-port', '9x'], /--metrics-port: must be a whole number in decimal digits, got "9x"/],
      [['dev', '--metrics-port=-1'], /--metrics-port: must be a whole number in decimal digits, got "-1"/],
      [['dev', '--metrics-port', '70000'], /--metrics-port: must be a port from 1 to 65534 .*got 70000/],
    ] as const) {
      const run = await runCli([...args], { env: env2, timeoutMs: 30_000 });
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
    }

    for (const taken of [0, 1]) {
      const port = await freePortPair();
      const squatter = await listen(port + taken);
      try {
        const run = await runCli(['worker', '--metrics-port', String(port)], { env: env2, timeoutMs: 30_000 });
        assert.equal(run.code, 1, run.stderr);
        assert.match(run.stderr, new RegExp(`--metrics-port: port ${port + taken}${taken ? ", where the Temporal SDK's runtime metrics go," : ''} is already in use`));
        assert.doesNotMatch(run.stderr, /polling/, 'no worker started');
        // The router's own port was let go when the SDK's could not be taken.
        if (taken) await listen(port).then((s) => new Promise((resolve) => s.close(resolve)));
      } finally {
        await new Promise((resolve) => squatter.close(resolve));
      }
    }
  });
});

/** A finished request's row, written out in full: an escalation from the small to the medium model. */
function sampleLog(): DecisionLog {
  const features = { taskType: 'classification', domain: 'general', domainRisk: 'low' as const, promptTokens: 12, historyTurns: 0, reasoningMarkers: 0, expectedOutputTokens: 50, complexity: 0.2, customerTier: 'standard' as const, timeSensitivity: 'normal' as const };
  const decision = { model: 'small-model', confidence: 0.8, confidenceAdjustment: 0, alternatives: ['medium-model'], reason: 'classification-small', strategy: 'rules', policyVersion: '1' };
  const verdict = (passed: boolean) => ({ passed, score: passed ? 1 : 0.3, threshold: 0.7, evaluator: 'validators+judge', reasons: [], costUsd: 0.00001 });
  return {
    requestId: 'sample',
    workflowId: 'route-sample',
    timestamp: '2026-01-01T00:00:00.000Z',
    tenant: 'default',
    policyId: 'default',
    policyVersion: '1',
    strategy: 'rules',
    requestFeatures: features,
    decision,
    selectedModel: 'small-model',
    finalModel: 'medium-model',
    alternativeModels: ['medium-model'],
    confidence: 0.8,
    qualityScore: 1,
    passed: true,
    costUsd: 0.000045 + 0.00012 + 0.00002,
    costSavedUsd: 0.00075 - (0.000045 + 0.00012 + 0.00002),
    possiblyBilledUsd: 0,
    possiblyBilledCalls: 0,
    bestModel: 'large-model',
    wasEscalated: true,
    escalations: 1,
    attempts: [
      { model: 'small-model', cause: 'routed', status: 'completed', inputTokens: 100, outputTokens: 50, costUsd: 0.000045, latencyMs: 10, origin: 'live', verdict: verdict(false) },
      { model: 'medium-model', cause: 'escalation', status: 'completed', inputTokens: 100, outputTokens: 50, costUsd: 0.00012, latencyMs: 20, origin: 'live', verdict: verdict(true) },
    ],
    propensity: 1,
    answer: 'refund',
    origin: 'live',
  };
}
