#!/usr/bin/env node
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { RouteRequest } from '../domain/request';
import type { DecisionLog } from '../domain/results';
import type { ClientSession } from '../worker/session';
import { TASK_QUEUE } from '../domain/taskQueue';
import { ValidationError } from '../domain/validation';
import { SpeculativeSchema, type Speculative } from '../domain/policy';
import { PROJECT_ROOT } from '../servers/binaries';
import { existsSync, writeFileSync } from 'node:fs';
import { FileCache } from '../activities/fileCache';
import { DecisionLogStore } from '../analytics/decisionLogStore';
import { loadBanditPolicy, loadRulesPolicy } from '../analytics/offline/dataset';
import { renderEval, runEval } from '../analytics/offline/evalRun';
import { renderOnline, runOnlineEval } from '../analytics/offline/onlineRun';
import { EVAL_STRATEGIES, TRAINED_STRATEGIES } from '../analytics/offline/strategies';
import { trainStrategy } from '../analytics/offline/trainRun';
import { offPolicyEstimate, offPolicyTarget } from '../analytics/offPolicy';
import { escalationLadder } from '../routing/ladder';
import { loadRouterConfig } from '../worker/config';
import { progressBar } from './progress';
import { formatMarkdownTable, formatTable, percent } from '../analytics/table';
import { promptOption } from './promptInput';
import { untilInterrupted } from './signals';
import { checkMetricsPort } from '../worker/metricsPort';

/*
 * Start-up: `--help`, `train` and `eval` (without --through-temporal) load no Temporal package, so the modules that
 * do (the client, sessions, workers, benches, the demo, the codec server) are loaded inside the commands using them.
 */

const USAGE = `model-router — a durable, cost-aware LLM model router on Temporal

Commands:
  demo [--json] [--ui-port N]       Route the built-in batch of ~50 requests on the simulated provider through real
                                    workflows on an embedded dev server; print decisions and the routing metrics;
                                    then stream 260 more through the bandit beside the rules, to show it learning;
                                    then a few through the OpenAI-compatible gateway, whose URL and key it prints.
                                    Without --json, keeps the server and Web UI up until Ctrl-C.
  route (--prompt TEXT | --prompt-file FILE|-) [--task-type T] [--domain D] [--field-count N] [--request-id ID]
        [--policy ID] [--address HOST:PORT] [--json]
                                    Route one request and print its decision log. With --address (or
                                    TEMPORAL_ADDRESS) the workers deployed there route it; else an embedded dev
                                    server with a worker of its own. --prompt-file - reads the prompt from stdin.
  dev [--port 7233] [--ui-port 8233] [--db FILE] [--codec-endpoint URL] [--metrics-port N]
      [--gateway-port 8080] [--tenants FILE]
                                    A local Temporal dev server with the Web UI, plus a router worker and the
                                    OpenAI-compatible gateway; prints its base URL and a new key of tenant "dev".
                                    With --codec-endpoint, the UI decrypts payloads through that codec server.
  worker [--metrics-port N]         The production worker: connects to TEMPORAL_ADDRESS, loads the prebuilt bundle.
                                    --metrics-port N (dev and worker): Prometheus metrics at http://HOST:N/metrics
                                    (the router's) and at port N+1 (the Temporal SDK's runtime metrics).
  train --data FILE [--data FILE ...] --out ARTEFACT.json [--strategy classifier|knn] [--k 100]
        [--target-retention R [--escalation ladder|cascade]] [--gate-error E] [--judge-cost-ratio J] [--no-gate] [--max-escalations N]
        [--folds 5] [--seed 1] [--prices models.json]
                                    Fit a learned strategy on recorded outcomes; write the artefact its policy loads.
  eval --data FILE [--data FILE ...] --strategy rules|classifier|knn|random|oracle|best|cheapest [--model ARTEFACT.json]
       [--gate-error E] [--judge-cost-ratio J] [--no-gate] [--max-escalations N] [--escalation ladder|cascade]
       [--lambda L | --willingness-to-pay W] [--speculative-below C [--speculative-partner best|tier:T|model:M] [--prefer cost|latency]] [--folds 5] [--seed 1] [--k 100] [--prices models.json] [--through-temporal] [--json]
                                    Replay recorded outcomes through a strategy (no Temporal needed) and report the
                                    routing metrics, the cost-quality curve (APGR, AIQ) and the baselines.
  eval --data FILE --strategy bandit --online [--seeds 1,2,3,4,5] [--lambda L] [--policy POLICY.json] [...]
                                    Stream the data through every bandit algorithm, learning from bandit feedback.
  eval --decision-log FILE --strategy rules|best|cheapest|MODEL [--lambda L] [--json]
                                    Inverse-propensity estimate of another policy on logged traffic.
  bench bandit [--outcomes 10000] [--duplicates 0.1] [--concurrency 256] [--address HOST:PORT] [--json]
                                    Outcomes into one banditState (duplicates, a worker restart): rate and exactness.
  bench overhead [--requests 200] [--concurrency 1,16] [--stock-server] [--no-early-return] [--json | --markdown]
                                    The router against Temporal's floor (one and four no-op activities) on one
                                    embedded server: p50/p95/p99, requests/s, history bytes, server CPU, as ratios.
  bench gateway [--requests 200] [--concurrency 1,16] [--json]
                                    The same requests through the typed client and, with the official openai client,
                                    through the gateway on loopback (and for a tenant with a budget), interleaved, on
                                    one embedded server: p50/p95/p99, requests/s, gateway ÷ client (target ≤ 1.15×).
  bench speculative [--requests 156] [--concurrency 4] [--latency-scale 1] [--below 0.9] [--json]
                                    The same simulated requests (latency profiles slept) through real workflows: the
                                    sequential ladder, the cascade, racing the best model below a confidence bar, and
                                    always-best.
  bench chaos [--trials 100] [--concurrency 4] [--seed 1] [--json]
                                    Requests through the production worker and a fake counting provider, with kill -9,
                                    server restarts and SIGTERM deploys: completed once, cost once, repeats recorded.
  report [--db FILE|postgres://URL] [--since T] [--until T] [--policy P] [--tenant T]
         [--group-by strategy|policy|tenant|model|day] [--html FILE] [--json] [--web-ui URL]
                                    Routing analytics from the decision log: accuracy, savings and quality retention
                                    vs always-best, escalation rate, model mix, cost per 1k, latency; T is an ISO date
                                    or time, or a duration back from now (24h, 7d). --html writes a page with charts.
  serve [--port 8080] [--host 127.0.0.1] [--address HOST:PORT] [--tenants FILE] [--timeout-ms 60000]
                                    The OpenAI-compatible gateway (POST /v1/chat/completions, GET /v1/models) in front
                                    of the workers at --address (else TEMPORAL_ADDRESS, else the running dev server).
  keys add --tenant T [--label L] [--tenants FILE]
                                    Add an API key to a tenant of the tenants file (creating the tenant with defaults);
                                    prints the key once, keeps only its SHA-256. FILE defaults to MODEL_ROUTER_TENANTS,
                                    else .model-router/tenants.json.
  codec-server [--port 8888] [--ui-origin http://localhost:8233]
                                    Decrypts payloads for the Web UI (/encode, /decode), with the keys from
                                    MODEL_ROUTER_CODEC_KEYS or MODEL_ROUTER_CODEC_KEY_FILE.

Environment: OPENAI_BASE_URL, OPENAI_API_KEY, MODEL_ROUTER_PROVIDER, MODEL_ROUTER_CATALOG, MODEL_ROUTER_POLICIES,
MODEL_ROUTER_JUDGE_MODEL, MODEL_ROUTER_REPLAY_FILES, MODEL_ROUTER_DECISION_LOG, MODEL_ROUTER_CODEC_KEYS,
MODEL_ROUTER_CODEC_KEY_FILE (see README).`;

/** Decimal digits only: Number() alone would read "" as 0, "0x10" as 16, and take "1e3" and " 5". */
function intOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new ValidationError('command line', [{ path: `--${name}`, message: `must be a whole number in decimal digits, got "${value}"` }]);
  }
  return n;
}

async function route(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      prompt: { type: 'string' },
      'prompt-file': { type: 'string' },
      'task-type': { type: 'string' },
      domain: { type: 'string' },
      'field-count': { type: 'string' },
      'request-id': { type: 'string' },
      policy: { type: 'string' },
      address: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const fieldCount = intOption(values['field-count'], 'field-count');
  const prompt = await promptOption(values);
  // Validated before anything starts, so a bad flag names its field and no server is spun up for it.
  const { validateRouteRequest } = await import('../client');
  const request = validateRouteRequest({
    requestId: values['request-id'] ?? `cli-${randomUUID()}`,
    prompt,
    ...(values['task-type'] !== undefined ? { taskType: values['task-type'] } : {}),
    ...(values.domain !== undefined ? { domain: values.domain } : {}),
    ...(fieldCount !== undefined ? { fieldCount } : {}),
    ...(values.policy !== undefined ? { policyId: values.policy } : {}),
  });
  const log = await routeOnce(request, values.address ?? process.env.TEMPORAL_ADDRESS);
  if (values.json) {
    console.log(JSON.stringify(log, null, 2));
  } else {
    console.log(`${log.requestId}: ${log.selectedModel} → ${log.finalModel} (${log.passed ? 'passed' : 'failed'} gate, score ${log.qualityScore.toFixed(2)}), cost $${log.costUsd.toFixed(6)} [${log.origin}]`);
    console.log(`why: ${log.decision.reason}`);
    console.log(`answer: ${log.answer}`);
  }
}

/**
 * With an address, the workers deployed there execute the request (their providers, keys and decision log); this
 * process runs a worker only for the embedded server it starts and owns.
 */
async function routeOnce(request: RouteRequest, address: string | undefined): Promise<DecisionLog> {
  const [{ openSession }, { runningDevServer }] = await Promise.all([import('../worker/session'), import('../worker/devServerFile')]);
  const through = async (remote: ClientSession) => {
    try {
      return await remote.router.route(request);
    } finally {
      await remote.close();
    }
  };
  if (address) return through(await openSession({ address }));
  const dev = runningDevServer();
  if (dev) {
    const remote = await openSession(dev).catch((err: Error) => void console.error(`${err.message}: starting an embedded server instead`));
    if (remote) {
      console.error(`routing through the running dev server at ${dev.address} (pid ${dev.pid})`);
      return through(remote);
    }
  }
  const embedded = await openSession();
  try {
    // This process's worker is the only one: it stays until the row is written, not just until the answer.
    return await embedded.worker.runUntil(embedded.router.route(request, { earlyReturn: false }));
  } finally {
    await embedded.close();
  }
}

/** `--metrics-port N`: checked before anything starts. */
function metricsPortOption(value: string | undefined): { port: number; setting: string } | undefined {
  const port = intOption(value, 'metrics-port');
  if (port === undefined) return undefined;
  checkMetricsPort(port, '--metrics-port');
  return { port, setting: '--metrics-port' };
}

async function dev(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string' },
      'ui-port': { type: 'string' },
      db: { type: 'string' },
      'codec-endpoint': { type: 'string' },
      'metrics-port': { type: 'string' },
      'gateway-port': { type: 'string' },
      tenants: { type: 'string' },
    },
  });
  const metricsPort = metricsPortOption(values['metrics-port']);
  const gatewayPort = (await import('./serve')).portOption(values['gateway-port'], 8080, '--gateway-port');
  const port = intOption(values.port, 'port') ?? 7233;
  const uiPort = intOption(values['ui-port'], 'ui-port') ?? 8233;
  const dbFilename = values.db ?? join(PROJECT_ROOT, '.model-router', 'temporal-dev.db');
  const codecEndpoint = values['codec-endpoint'];
  // The shared task queue: this server is there for other clients (`route --address`) to route through.
  const { openSession } = await import('../worker/session');
  const session = await openSession({
    embedded: { port, uiPort, dbFilename, ...(codecEndpoint ? { codecEndpoint } : {}) },
    taskQueue: process.env.MODEL_ROUTER_TASK_QUEUE ?? TASK_QUEUE,
    ...(metricsPort ? { metricsPort } : {}),
  });
  console.log(`Temporal dev server: ${session.address} (runs kept in ${dbFilename})`);
  console.log(`Temporal Web UI:     ${session.uiUrl}`);
  if (session.metrics) console.log(`Metrics:             ${session.metrics.url} (router), ${session.metrics.sdkUrl} (Temporal SDK)`);
  const [{ startLocalGateway }, { tenantsFilePath }] = await Promise.all([import('../gateway/local'), import('../gateway/tenants')]);
  const gateway = await startLocalGateway(session, { port: gatewayPort, tenantsPath: tenantsFilePath(values.tenants), setting: '--gateway-port' }).catch(async (err: unknown) => {
    await session.close();
    throw err;
  });
  const { printGateway } = await import('./gatewayBanner');
  printGateway(gateway);
  console.log(`Router worker polling task queue "${session.worker.options.taskQueue}". Ctrl-C to stop.`);
  const { announceDevServer } = await import('../worker/devServerFile');
  const withdraw = announceDevServer({ address: session.address, taskQueue: session.worker.options.taskQueue, ...(session.uiUrl ? { uiUrl: session.uiUrl } : {}) });
  try {
    await session.worker.runUntil(untilInterrupted());
  } finally {
    withdraw();
    await gateway.close();
    await session.close();
  }
}

function numberOption(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  // Decimal notation only, as for intOption ("0x10" and " 5" are typos, not numbers).
  if (!/^[0-9]*\.?[0-9]+(e[-+]?[0-9]+)?$|^[0-9]+\.$/i.test(value) || !Number.isFinite(n) || n < min || n > max) {
    throw new ValidationError('command line', [{ path: `--${name}`, message: `must be a number from ${min} to ${max}, got "${value}"` }]);
  }
  return n;
}

const OFFLINE_OPTIONS = {
  data: { type: 'string', multiple: true },
  prices: { type: 'string' },
  'gate-error': { type: 'string' },
  'judge-cost-ratio': { type: 'string' },
  'no-gate': { type: 'boolean', default: false },
  'max-escalations': { type: 'string' },
  folds: { type: 'string' },
  seed: { type: 'string' },
} as const;

function offlineSettings(values: { data?: string[]; prices?: string; 'gate-error'?: string; 'judge-cost-ratio'?: string; 'no-gate'?: boolean; 'max-escalations'?: string; folds?: string; seed?: string }) {
  if (!values.data || values.data.length === 0) throw new ValidationError('command line', [{ path: '--data', message: 'is required (an outcome file in the ../shared/data format)' }]);
  const seed = numberOption(values.seed, 'seed', 0, 2 ** 31) ?? 1;
  return {
    data: values.data,
    ...(values.prices ? { prices: values.prices } : {}),
    gate: {
      enabled: !values['no-gate'],
      judgeError: numberOption(values['gate-error'], 'gate-error', 0, 1) ?? 0,
      judgeCostRatio: numberOption(values['judge-cost-ratio'], 'judge-cost-ratio', 0, 100) ?? 0.1,
      seed,
    },
    maxEscalations: intOption(values['max-escalations'], 'max-escalations') ?? 1,
    folds: intOption(values.folds, 'folds') ?? 5,
    seed,
  };
}

async function train(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { ...OFFLINE_OPTIONS, strategy: { type: 'string' }, k: { type: 'string' }, out: { type: 'string' }, 'target-retention': { type: 'string' }, escalation: { type: 'string' } } });
  if (!values.out) throw new ValidationError('command line', [{ path: '--out', message: 'is required (where to write the model artefact)' }]);
  const strategy = values.strategy ?? 'classifier';
  if (!TRAINED_STRATEGIES.includes(strategy)) {
    throw new ValidationError('command line', [{ path: '--strategy', message: `must be one of ${TRAINED_STRATEGIES.join(', ')}, got "${strategy}"` }]);
  }
  const targetRetention = numberOption(values['target-retention'], 'target-retention', 0, 1.5);
  const { artefact, lines } = trainStrategy({
    ...offlineSettings(values),
    strategy,
    k: intOption(values.k, 'k') ?? 100,
    escalation: escalationOption(values.escalation),
    now: new Date(),
    onProgress: progressBar(`train ${strategy}`),
    ...(targetRetention !== undefined ? { targetRetention } : {}),
  });
  for (const line of lines) console.error(line);
  writeFileSync(values.out, `${JSON.stringify(artefact)}\n`);
  console.error(`wrote ${values.out}`);
}

async function evaluate(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      ...OFFLINE_OPTIONS,
      strategy: { type: 'string' },
      model: { type: 'string' },
      lambda: { type: 'string' },
      escalation: { type: 'string' },
      'willingness-to-pay': { type: 'string' },
      'speculative-below': { type: 'string' },
      'speculative-partner': { type: 'string' },
      prefer: { type: 'string' },
      k: { type: 'string' },
      'through-temporal': { type: 'boolean', default: false },
      online: { type: 'boolean', default: false },
      seeds: { type: 'string' },
      policy: { type: 'string' },
      'decision-log': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (values['decision-log']) return evaluateOffPolicy(values['decision-log'], values.strategy, numberOption(values.lambda, 'lambda', 0, 1e6) ?? 1, values.json ?? false);
  const strategy = values.strategy;
  if (!strategy || !EVAL_STRATEGIES.includes(strategy)) {
    throw new ValidationError('command line', [{ path: '--strategy', message: `must be one of ${EVAL_STRATEGIES.join(', ')}, got ${values.strategy === undefined ? 'nothing' : `"${values.strategy}"`}` }]);
  }
  const lambda = numberOption(values.lambda, 'lambda', 0, 1e6);
  if (strategy === 'bandit' || values.online) return evaluateOnline(values, lambda);
  const escalation = escalationOption(values.escalation);
  const files = new FileCache();
  const output = await runEval({
    ...offlineSettings(values),
    strategy,
    escalation,
    ...(values['willingness-to-pay'] !== undefined ? { willingnessToPayUsd: numberOption(values['willingness-to-pay'], 'willingness-to-pay', 1e-12, 1e6)! } : {}),
    ...(values['speculative-below'] !== undefined ? { speculative: speculativeOption(values['speculative-below'], values['speculative-partner'], values.prefer) } : {}),
    ...(values.model ? { model: values.model } : {}),
    ...(lambda !== undefined ? { lambda } : {}),
    k: intOption(values.k, 'k') ?? 100,
    throughTemporal: values['through-temporal'] ?? false,
    rulesPolicy: loadRulesPolicy(join(PROJECT_ROOT, 'config', 'default-policy.json')),
    load: (path, kind, parse) => files.load(path, kind, parse),
    ...(values.json ? {} : { onProgress: progressBar(strategy) }),
  });
  console.log(values.json ? JSON.stringify(output, null, 2) : renderEval(output));
}

function escalationOption(value = 'ladder'): 'ladder' | 'cascade' {
  if (value !== 'ladder' && value !== 'cascade') throw new ValidationError('command line', [{ path: '--escalation', message: `must be "ladder" or "cascade", got "${value}"` }]);
  return value;
}

/** `--speculative-below C [--speculative-partner best|tier:NAME|model:ID] [--prefer cost|latency]` as the policy option. */
function speculativeOption(below: string, partner = 'best', prefer = 'cost'): Speculative {
  const [kind, name] = partner.includes(':') ? [partner.slice(0, partner.indexOf(':')), partner.slice(partner.indexOf(':') + 1)] : [partner, ''];
  const value = { whenConfidenceBelow: numberOption(below, 'speculative-below', 0, 1)!, partner: kind === 'best' ? 'best' : kind === 'tier' ? { tier: name } : kind === 'model' ? { model: name } : partner, prefer };
  const parsed = SpeculativeSchema.safeParse(value);
  if (!parsed.success) {
    throw new ValidationError('command line', [{ path: '--speculative-partner / --prefer', message: `must be best, tier:small|medium|large or model:ID, and cost or latency (got "${partner}", "${prefer}")` }]);
  }
  return parsed.data;
}

/** `eval --decision-log FILE --strategy rules|best|cheapest|MODEL`: another policy, scored on logged traffic. */
async function evaluateOffPolicy(path: string, strategy: string | undefined, lambda: number, json: boolean): Promise<void> {
  if (!existsSync(path)) throw new ValidationError('command line', [{ path: '--decision-log', message: `no decision-log file at ${path}` }]);
  const ladder = escalationLadder(loadRouterConfig(process.env).catalog.models);
  const target = offPolicyTarget(strategy, ladder, () => loadRulesPolicy(join(PROJECT_ROOT, 'config', 'default-policy.json')));
  const store = await DecisionLogStore.open(path, { setting: '--decision-log' });
  try {
    const estimate = offPolicyEstimate(await store.all(), target, lambda);
    if (json) console.log(JSON.stringify({ strategy, lambda, ...estimate }, null, 2));
    else {
      console.log(`off-policy estimate of "${strategy}" on ${estimate.n} logged requests (reward = quality − ${lambda}·cost ÷ best model's cost)`);
      console.log(`logging policy's own mean reward ${estimate.loggedReward.toFixed(4)}`);
      console.log(`IPS ${estimate.ips.toFixed(4)} ± ${(1.96 * estimate.ipsStandardError).toFixed(4)} (95 %), SNIPS ${estimate.snips === null ? 'n/a' : estimate.snips.toFixed(4)}`);
      console.log(`${estimate.matched} requests match the target's choice; effective sample size ${estimate.effectiveSampleSize.toFixed(1)}`);
    }
  } finally {
    await store.close();
  }
}

/** `eval --strategy bandit --online`: the bandit learns from a stream of the data, as it would from traffic. */
function evaluateOnline(values: { strategy?: string; online?: boolean; seeds?: string; seed?: string; policy?: string; json?: boolean } & Parameters<typeof offlineSettings>[0], lambda: number | undefined): void {
  if (values.strategy !== 'bandit' || !values.online) {
    throw new ValidationError('command line', [{ path: values.online ? '--strategy' : '--online', message: values.online ? 'must be bandit with --online (the only strategy that learns online)' : 'is required with --strategy bandit (the bandit is evaluated on a stream, learning as it goes)' }]);
  }
  const settings = offlineSettings(values);
  const seeds = values.seeds
    ? values.seeds.split(',').map((s) => intOption(s.trim(), 'seeds')!)
    : [0, 1, 2, 3, 4].map((i) => settings.seed + i);
  const policyPath = values.policy ?? join(PROJECT_ROOT, 'config', 'bandit-policy.json');
  const policy = loadBanditPolicy(policyPath);
  const output = runOnlineEval({
    ...settings,
    seeds,
    policy: lambda !== undefined ? { ...policy, bandit: { ...policy.bandit, lambda } } : policy,
    ...(values.json ? {} : { onProgress: progressBar('online') }),
  });
  console.log(values.json ? JSON.stringify(output, null, 2) : renderOnline(output));
}

async function chaos(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { trials: { type: 'string' }, concurrency: { type: 'string' }, seed: { type: 'string' }, json: { type: 'boolean', default: false } } });
  const options = {
    trials: intOption(values.trials, 'trials') ?? 100,
    concurrency: intOption(values.concurrency, 'concurrency') ?? 4,
    seed: intOption(values.seed, 'seed') ?? 1,
    catalog: loadRouterConfig().catalog,
  };
  if (options.trials < 1) throw new ValidationError('command line', [{ path: '--trials', message: `must be at least 1, got ${options.trials}` }]);
  if (options.concurrency < 1) throw new ValidationError('command line', [{ path: '--concurrency', message: `must be at least 1, got ${options.concurrency}` }]);
  const [{ installQuietRuntime }, { benchChaos }] = await Promise.all([import('../worker/runtime'), import('../analytics/bench/chaos')]);
  installQuietRuntime();
  const result = await benchChaos(options, values.json ? undefined : (line) => console.error(line));
  if (values.json) return console.log(JSON.stringify(result));
  const all = (n: number) => `${n}/${result.trials}${n === result.trials ? '' : '  <-- NOT ALL'}`;
  console.log(`${result.trials} requests through the production worker, faults: ${JSON.stringify(result.faults)}`);
  console.log(`completed once:            ${all(result.completedOnce)}`);
  console.log(`decision-log rows each:    ${result.rowsPerRequest}`);
  console.log(`cost counted once:         ${all(result.costCountedOnce)}`);
  console.log(`upstream calls:            ${result.upstreamCalls}, of which repeated: ${result.repeatedCalls}`);
  console.log(`repeated calls recorded:   ${result.repeatedCallsRecorded}/${result.repeatedCalls} (possibly billed, as recorded: ${result.possiblyBilledCalls})`);
  console.log(`killed call retried after: median ${(result.callResumedMs.median / 1000).toFixed(1)} s, max ${(result.callResumedMs.max / 1000).toFixed(1)} s (heartbeat timeout 5 s)`);
  const lock = result.lockedDecisionLog;
  console.log(`locked decision log:       an unrelated request's judged answer in ${lock.lockedMs} ms vs ${lock.freeMs} ms with the file free (+${lock.delayMs} ms)`);
  console.log(`recovery after a fault:    median ${(result.recoveryMs.median / 1000).toFixed(1)} s, max ${(result.recoveryMs.max / 1000).toFixed(1)} s`);
}

async function overhead(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { requests: { type: 'string' }, concurrency: { type: 'string' }, 'stock-server': { type: 'boolean', default: false }, 'no-early-return': { type: 'boolean', default: false }, json: { type: 'boolean', default: false }, markdown: { type: 'boolean', default: false } },
  });
  const requests = intOption(values.requests, 'requests') ?? 200;
  const concurrency = (values.concurrency ?? '1,16').split(',').map((c) => intOption(c.trim(), 'concurrency')!);
  if (requests < 1) throw new ValidationError('command line', [{ path: '--requests', message: `must be at least 1, got ${requests}` }]);
  if (concurrency.some((c) => c < 1)) throw new ValidationError('command line', [{ path: '--concurrency', message: 'must be a comma-separated list of whole numbers of at least 1' }]);
  const config = loadRouterConfig();
  const [{ benchOverhead }, { installQuietRuntime }] = await Promise.all([import('../analytics/bench/overhead'), import('../worker/runtime')]);
  installQuietRuntime();
  const result = await benchOverhead({ requests, concurrency, catalog: config.catalog, policy: config.policies.get('default')!, tuned: !values['stock-server'], earlyReturn: !values['no-early-return'] }, values.json ? undefined : (line) => console.error(line));
  if (values.json) return console.log(JSON.stringify(result));
  const { machine } = result;
  console.log(
    `${requests} sequential requests per scenario, interleaved, on one ${result.tunedServer ? 'tuned' : 'stock'} embedded dev server; instant (simulated) provider; router ${result.earlyReturn ? 'answering early' : 'waiting for the row'}; ` +
      `${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}`,
  );
  const scenarios = Object.keys(result.scenarios) as (keyof typeof result.scenarios)[];
  const rows = scenarios.map((s) => {
    const f = result.scenarios[s];
    const r = result.ratiosToFloor[s];
    return [s, `${f.p50Ms.toFixed(1)} (${r.p50.toFixed(2)}×)`, f.p95Ms.toFixed(1), f.p99Ms.toFixed(1), ...concurrency.map((c) => `${f.rps[String(c)]!.toFixed(1)} (${r.rps[String(c)]!.toFixed(2)}×)`), `${f.historyBytes} (${r.historyBytes.toFixed(2)}×)`, f.serverCpuMsPerRequest.toFixed(1)];
  });
  console.log((values.markdown ? formatMarkdownTable : formatTable)(['scenario', 'p50 ms (÷ floor)', 'p95 ms', 'p99 ms', ...concurrency.map((c) => `req/s @${c} (÷ floor)`), 'history bytes (÷ floor)', 'server CPU ms/req'], rows));
}

async function speculative(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { requests: { type: 'string' }, concurrency: { type: 'string' }, 'latency-scale': { type: 'string' }, below: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const requests = intOption(values.requests, 'requests') ?? 156;
  const concurrency = intOption(values.concurrency, 'concurrency') ?? 4;
  if (requests < 1) throw new ValidationError('command line', [{ path: '--requests', message: `must be at least 1, got ${requests}` }]);
  if (concurrency < 1) throw new ValidationError('command line', [{ path: '--concurrency', message: `must be at least 1, got ${concurrency}` }]);
  const latencyScale = numberOption(values['latency-scale'], 'latency-scale', 0, 10) ?? 1;
  const whenConfidenceBelow = numberOption(values.below, 'below', 0, 1) ?? 0.9;
  const config = loadRouterConfig();
  const [{ benchSpeculative, ARMS }, { installQuietRuntime }] = await Promise.all([import('../analytics/bench/speculative'), import('../worker/runtime')]);
  installQuietRuntime();
  const result = await benchSpeculative({ requests, concurrency, latencyScale, whenConfidenceBelow, catalog: config.catalog, policy: config.policies.get('default')! }, values.json ? undefined : (line) => console.error(line));
  if (values.json) return console.log(JSON.stringify(result));
  console.log(`${requests} requests (the demo mix) per arm, ${concurrency} in flight, on one embedded dev server; simulated provider sleeping ${latencyScale} × its latency profiles`);
  const rows = ARMS.map((arm) => {
    const f = result.arms[arm];
    return [arm, Math.round(f.p50Ms), Math.round(f.p95Ms), `$${f.costPer1kUsd.toFixed(4)}`, percent(f.qualityRetention), percent(f.escalationRate)];
  });
  console.log(formatTable(['arm', 'p50 ms', 'p95 ms', 'cost / 1k requests', 'quality vs always-best', 'escalated'], rows));
  const { raced } = result;
  const tasks = Object.entries(raced.byTaskType).map(([t, n]) => `${t} ${n}`).join(', ');
  console.log(`\nraced (confidence < ${whenConfidenceBelow}, routed model not the best): ${raced.count} of ${requests} requests (${percent(raced.share)}): ${tasks || 'none'}`);
  console.log(
    `  the routed answer passed in ${raced.routedPassed}: the partner cancelled in ${raced.partnerCancelled} ($${raced.cancelledCostUsd.toFixed(6)} in all, ${raced.cancelledEstimated} estimated), ` +
      `already answered in ${raced.partnerAnsweredUnneeded}; the partner's answer gated in ${raced.count - raced.routedPassed}`,
  );
  const racedRows = ARMS.map((arm) => [arm === 'always-best' ? 'the partner alone' : arm, Math.round(raced.p50Ms[arm]), Math.round(raced.p95Ms[arm]), `$${raced.costPer1kUsd[arm].toFixed(4)}`]);
  console.log(formatTable(['raced requests under', 'p50 ms', 'p95 ms', 'cost / 1k requests'], racedRows));
}

async function gatewayBench(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { requests: { type: 'string' }, concurrency: { type: 'string' }, json: { type: 'boolean', default: false } } });
  const requests = intOption(values.requests, 'requests') ?? 200;
  const concurrency = (values.concurrency ?? '1,16').split(',').map((c) => intOption(c.trim(), 'concurrency')!);
  if (requests < 1) throw new ValidationError('command line', [{ path: '--requests', message: `must be at least 1, got ${requests}` }]);
  if (concurrency.some((c) => c < 1)) throw new ValidationError('command line', [{ path: '--concurrency', message: 'must be a comma-separated list of whole numbers of at least 1' }]);
  const config = loadRouterConfig();
  const [{ benchGateway, GATEWAY_ARMS }, { installQuietRuntime }] = await Promise.all([import('../analytics/bench/gateway'), import('../worker/runtime')]);
  installQuietRuntime();
  const result = await benchGateway({ requests, concurrency, catalog: config.catalog, policy: config.policies.get('default')! }, values.json ? undefined : (line) => console.error(line));
  if (values.json) return console.log(JSON.stringify(result));
  const { machine } = result;
  console.log(
    `${requests} requests per arm at each concurrency, interleaved in rounds, on one embedded dev server; the worker, the gateway and both clients in this process; ` +
      `req/s to the answers (the runs' rows written between batches, untimed); provider: ${result.provider}; ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}`,
  );
  const ratio = (x: number) => `${x.toFixed(2)}×`;
  const rows = result.levels.flatMap((level) =>
    GATEWAY_ARMS.map((arm) => {
      const f = level.arms[arm];
      const r = arm === 'client' ? undefined : level.toClient[arm];
      return [level.concurrency, arm, `${f.verified}/${f.requests}`, `${f.rps.toFixed(1)}${r ? ` (${ratio(r.rps)})` : ''}`, `${f.p50Ms.toFixed(1)}${r ? ` (${ratio(r.p50)})` : ''}`, f.p95Ms.toFixed(1), f.p99Ms.toFixed(1), f.processCpuMsPerRequest.toFixed(1), f.serverCpuMsPerRequest.toFixed(1)];
    }),
  );
  console.log(formatTable(['concurrency', 'arm', 'answers checked', 'req/s (÷ client)', 'p50 ms (÷ client)', 'p95 ms', 'p99 ms', 'CPU ms/req here', 'server CPU ms/req'], rows));
  const verdicts = result.levels.map((l) => `${l.targetMet ? 'met' : 'NOT met'} at ${l.concurrency} (${l.toClient.gateway.p50.toFixed(3)}×)`);
  console.log(`target, gateway p50 ≤ ${result.target}× the typed client's: ${verdicts.join(', ')}`);
  console.log(`budget tenant (gatewayBudget, not in the target): ${result.budget.reserved} reservations, ${result.budget.settled} settled, $${result.budget.spentUsd.toFixed(6)} spent`);
}

async function bench(args: string[]): Promise<void> {
  const [what, ...rest] = args;
  if (what === 'chaos') return chaos(rest);
  if (what === 'gateway') return gatewayBench(rest);
  if (what === 'overhead') return overhead(rest);
  if (what === 'speculative') return speculative(rest);
  if (what !== 'bandit') throw new ValidationError('command line', [{ path: 'bench', message: `must be followed by bandit, chaos, gateway, overhead or speculative, got ${what === undefined ? 'nothing' : `"${what}"`}` }]);
  const { values } = parseArgs({
    args: rest,
    options: { outcomes: { type: 'string' }, duplicates: { type: 'string' }, concurrency: { type: 'string' }, 'continue-as-new-at': { type: 'string' }, address: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const continueAsNewAt = intOption(values['continue-as-new-at'], 'continue-as-new-at') ?? 0;
  const options = {
    outcomes: intOption(values.outcomes, 'outcomes') ?? 10_000,
    duplicateShare: numberOption(values.duplicates, 'duplicates', 0, 1) ?? 0.1,
    concurrency: intOption(values.concurrency, 'concurrency') ?? 256,
    ...(continueAsNewAt > 0 ? { continueAsNewAt } : {}),
  };
  if (options.outcomes < 1) throw new ValidationError('command line', [{ path: '--outcomes', message: `must be at least 1, got ${options.outcomes}` }]);
  if (options.concurrency < 1) throw new ValidationError('command line', [{ path: '--concurrency', message: `must be at least 1, got ${options.concurrency}` }]);
  const [{ openSession }, { benchBandit }] = await Promise.all([import('../worker/session'), import('../analytics/bench/bandit')]);
  const session = await openSession(values.address ? { address: values.address, privateWorker: true } : {});
  try {
    const result = await benchBandit(session, options);
    if (values.json) {
      console.log(JSON.stringify(result));
    } else {
      const line = (name: string, r: typeof result.unbatched) =>
        `${name}: ${r.outcomesPerSec.toFixed(0)} outcomes/s, counted exactly once: ${r.exact ? 'yes' : 'NO'} ${JSON.stringify(r.counted)}, ` +
        `worker restarted ${r.workerRestarts}×, history ${r.historyLength} events after ${r.continuedAsNew} continue-as-new`;
      console.log(`${result.deliveries} deliveries (${result.outcomes} outcomes, ${result.deliveries - result.outcomes} duplicates) into one banditState each way, ${options.concurrency} in flight`);
      console.log(line('batched (the route activity\'s path)', result));
      console.log(line(`one signal per outcome (baseline, ${result.unbatched.outcomes} outcomes)`, result.unbatched));
      console.log(`batched ÷ baseline: ${result.speedupOverUnbatched.toFixed(2)}×`);
    }
  } finally {
    await session.close();
  }
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'demo': {
      const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean', default: false }, 'ui-port': { type: 'string' } } });
      const uiPort = intOption(values['ui-port'], 'ui-port');
      const { runDemo } = await import('./demo');
      return runDemo({ json: values.json ?? false, ...(uiPort !== undefined ? { uiPort } : {}) });
    }
    case 'route':
      return route(rest);
    case 'dev':
      return dev(rest);
    case 'worker': {
      const { values } = parseArgs({ args: rest, options: { 'metrics-port': { type: 'string' } } });
      const metricsPort = metricsPortOption(values['metrics-port']);
      const { runWorker } = await import('../worker/main');
      return runWorker(process.env, metricsPort ? { metricsPort } : {});
    }
    case 'train':
      return train(rest);
    case 'eval':
      return evaluate(rest);
    case 'bench':
      return bench(rest);
    case 'report': {
      const { reportCommand } = await import('./report');
      return reportCommand(rest);
    }
    case 'serve': {
      const { serveCommand } = await import('./serve');
      return serveCommand(rest);
    }
    case 'keys': {
      const { keysCommand } = await import('./keys');
      return keysCommand(rest);
    }
    case 'codec-server': {
      const { codecServerCommand } = await import('./codecServer');
      return codecServerCommand(rest);
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return;
    default:
      throw new Error(`unknown command "${command}"\n\n${USAGE}`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`model-router: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(err instanceof ValidationError ? 2 : 1);
    },
  );
}
