import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseClassifierArtefactJson } from '../src/domain/classifierArtefact';
import { DecisionLogSchema } from '../src/domain/results';
import type { GatewayDemo } from '../src/demo/gateway';
import { DEMO_REQUESTS } from '../src/demo/requests';
import { estimateTokens } from '../src/domain/cost';
import { freePort } from '../src/servers/localServer';
import { runCli } from './helpers/cli';

const ROOT = join(__dirname, '..');


describe('model-router CLI (built, real embedded dev server)', () => {
  it('demo --json routes the whole batch and prints one object with the four metrics', { timeout: 300_000 }, async () => {
    const { code, stdout, stderr } = await runCli(['demo', '--json'], { timeoutMs: 240_000 });
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout) as {
      requests: number;
      provider: string;
      metrics: Record<string, number>;
      decisions: unknown[];
      learning: { requests: number; provider: string; rules: { costSavings: number }; bandit: { costSavings: number; qualityRetention: number }; banditChoicesByQuarter: Record<string, number>[] };
    };
    assert.equal(report.requests, DEMO_REQUESTS.length);
    assert.equal(report.provider, 'simulated');
    assert.deepEqual(Object.keys(report.metrics).sort(), ['costSavings', 'escalationRate', 'qualityRetention', 'routingAccuracy']);
    for (const [name, value] of Object.entries(report.metrics)) assert.ok(value >= -1 && value <= 1, `${name}=${value}`);
    const decisions = report.decisions.map((d) => DecisionLogSchema.parse(d));
    assert.deepEqual(
      decisions.map((d) => d.requestId),
      DEMO_REQUESTS.map((r) => r.requestId),
    );
    assert.ok(decisions.every((d) => d.origin === 'simulated'), 'every decision is labelled simulated');
    // Text answers say so themselves; a JSON answer holds only its schema's fields (a strict schema allows no
    // other), so the label is in its free-text strings, and in the log's origin when it has none.
    for (const d of decisions) {
      const request = DEMO_REQUESTS.find((r) => r.requestId === d.requestId)!;
      if (!request.outputSchema) {
        assert.ok(d.answer.includes('simulated'), `${d.requestId}: ${d.answer}`);
        continue;
      }
      const strings = Object.values(JSON.parse(d.answer) as Record<string, unknown>).filter((v): v is string => typeof v === 'string');
      const freeText = strings.filter((v) => !Object.values(request.outputSchema!.properties).some((f) => f.enum?.includes(v)));
      assert.ok(freeText.every((v) => v.includes('simulated')), `${d.requestId}: ${d.answer}`);
    }
    const escalated = decisions.filter((d) => d.wasEscalated).length;
    assert.equal(report.metrics.escalationRate, escalated / decisions.length);
    // The learning stream: the bandit, learning from outcomes, beside the rules on an equal simulated stream.
    const { learning } = report;
    assert.equal(learning.provider, 'simulated');
    assert.equal(learning.requests, DEMO_REQUESTS.length * 5);
    assert.equal(learning.banditChoicesByQuarter.length, 4);
    assert.ok(learning.bandit.costSavings > learning.rules.costSavings, `bandit saves ${learning.bandit.costSavings}, rules ${learning.rules.costSavings}`);
    assert.ok(learning.bandit.qualityRetention > 0.95, `bandit retention ${learning.bandit.qualityRetention}`);
    // Through the gateway, under the development tenant's budget: the retry with the first call's key is its answer.
    const { gateway } = JSON.parse(stdout) as { gateway: GatewayDemo };
    assert.match(gateway.baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    assert.deepEqual(gateway.calls.map((c) => [c.model, c.status]), [['router', 200], ['router/bandit', 200], ['gpt-4o-mini', 200], ['router', 200]]);
    const [first, , pinned, retry] = gateway.calls;
    assert.equal(pinned!.answeredBy, 'gpt-4o-mini');
    assert.deepEqual(retry, first);
    const charged = gateway.calls.slice(0, 3).reduce((sum, c) => sum + c.costUsd!, 0);
    assert.ok(Math.abs(gateway.budget.spentUsd - charged) < 1e-7, `budget spent ${gateway.budget.spentUsd}, the three runs cost ${charged}`);
    assert.equal(gateway.budget.reservedUsd, 0);
  });

  it('bench bandit --json: every outcome counted once through a worker restart, batched and unbatched', async () => {
    const { code, stdout, stderr } = await runCli(['bench', 'bandit', '--outcomes', '300', '--json']);
    assert.equal(code, 0, stderr);
    const result = JSON.parse(stdout) as { outcomes: number; outcomesPerSec: number; exact: boolean; historyLength: number; continuedAsNew: number; workerRestarts: number; unbatched: { exact: boolean } };
    assert.equal(result.outcomes, 300);
    assert.equal(result.exact, true);
    assert.equal(result.unbatched.exact, true);
    assert.equal(result.workerRestarts, 1);
    assert.ok(result.outcomesPerSec > 0 && result.historyLength > 0);
  });

  it('bench chaos --json: a kill -9, a server restart and a SIGTERM deploy; every request once, every repeated call recorded', { timeout: 300_000 }, async () => {
    const { code, stdout, stderr } = await runCli(['bench', 'chaos', '--trials', '6', '--concurrency', '2', '--json'], { timeoutMs: 280_000 });
    assert.equal(code, 0, stderr);
    const r = JSON.parse(stdout) as { trials: number; completedOnce: number; rowsPerRequest: number; costCountedOnce: number; upstreamCalls: number; repeatedCalls: number; repeatedCallsRecorded: number; faults: Record<string, number> };
    assert.deepEqual(r.faults, { kill: 1, 'kill+server-restart': 1, sigterm: 1 });
    assert.equal(r.trials, 6);
    assert.equal(r.completedOnce, 6);
    assert.equal(r.rowsPerRequest, 1);
    assert.equal(r.costCountedOnce, 6);
    assert.ok(r.upstreamCalls >= 12, `each request called a model and its judge (${r.upstreamCalls} calls)`);
    assert.equal(r.repeatedCallsRecorded, r.repeatedCalls);
  });

  it('bench overhead --json: every scenario measured beside the floor, as ratios (its shape, not its speed)', { timeout: 200_000 }, async () => {
    const { code, stdout, stderr } = await runCli(['bench', 'overhead', '--requests', '3', '--concurrency', '1,2', '--json'], { timeoutMs: 180_000 });
    assert.equal(code, 0, stderr);
    const r = JSON.parse(stdout) as { tunedServer: boolean; scenarios: Record<string, { p50Ms: number; historyBytes: number; rps: Record<string, number> }>; ratiosToFloor: Record<string, { p50: number }> };
    assert.equal(r.tunedServer, true);
    assert.deepEqual(Object.keys(r.scenarios), ['floor1', 'floor4', 'router', 'routerEscalated']);
    for (const [name, f] of Object.entries(r.scenarios)) {
      assert.ok(f.p50Ms > 0 && f.historyBytes > 0, `${name}: ${JSON.stringify(f)}`);
      assert.deepEqual(Object.keys(f.rps), ['1', '2']);
    }
    assert.equal(r.ratiosToFloor.floor1!.p50, 1);
    assert.ok(r.scenarios.routerEscalated!.historyBytes > r.scenarios.router!.historyBytes, 'an escalation adds a model call and a gate to the history');
  });

  it('bench speculative --json: four arms on the same requests, the races named and their cancelled calls counted (its shape, not its speed)', { timeout: 200_000 }, async () => {
    const { code, stdout, stderr } = await runCli(['bench', 'speculative', '--requests', '26', '--latency-scale', '0.05', '--json'], { timeoutMs: 180_000 });
    assert.equal(code, 0, stderr);
    const r = JSON.parse(stdout) as { arms: Record<string, { p50Ms: number; costPer1kUsd: number; qualityRetention: number }>; raced: { count: number; byTaskType: Record<string, number>; routedPassed: number; partnerCancelled: number } };
    assert.deepEqual(Object.keys(r.arms), ['ladder', 'cascade', 'speculative', 'always-best']);
    assert.equal(r.arms['always-best']!.qualityRetention, 1);
    // The default rules send classification and small extractions to the small tier at confidence 0.85 and 0.8.
    assert.ok(r.raced.count > 0 && Object.keys(r.raced.byTaskType).every((t) => t === 'classification' || t === 'extraction'), JSON.stringify(r.raced));
    assert.ok(r.raced.partnerCancelled <= r.raced.routedPassed && r.raced.routedPassed <= r.raced.count);
    assert.ok(r.arms.speculative!.costPer1kUsd > r.arms.ladder!.costPer1kUsd, 'a race pays for its partner, cancelled or not');
  });

  it('eval --strategy bandit without --online says how it is evaluated', async () => {
    const { code, stderr } = await runCli(['eval', '--data', 'x.jsonl', '--strategy', 'bandit']);
    assert.equal(code, 2);
    assert.match(stderr, /--online: is required with --strategy bandit/);
  });

  it('route --json prints the decision log of one request', async () => {
    const { code, stdout, stderr } = await runCli([
      'route',
      '--prompt',
      'Is this ticket about billing or delivery? "I was charged twice for label QS-1182"',
      '--task-type',
      'classification',
      '--request-id',
      'cli-test-1',
      '--json',
    ], { env: { MODEL_ROUTER_DEV_SERVER_FILE: join(mkdtempSync(join(tmpdir(), 'cli-nodev-')), 'none.json') } });
    assert.equal(code, 0, stderr);
    const log = DecisionLogSchema.parse(JSON.parse(stdout));
    assert.equal(log.requestId, 'cli-test-1');
    assert.equal(log.workflowId, 'route-default-cli-test-1');
    assert.equal(log.decision.ruleId, 'classification-small');
    assert.equal(log.selectedModel, 'gpt-4o-mini');
    assert.equal(log.origin, 'simulated');
  });

  it('route goes through a running dev server (its worker, its decision log) instead of starting one; so does its gateway, with the key it printed', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-dev-'));
    const env = { ...process.env, MODEL_ROUTER_DEV_SERVER_FILE: join(dir, 'dev-server.json'), MODEL_ROUTER_DECISION_LOG: join(dir, 'dev-decisions.sqlite') };
    const [port, uiPort] = [await freePort(), await freePort()];
    const dev = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'cli', 'main.js'), 'dev', '--port', String(port), '--ui-port', String(uiPort), '--db', join(dir, 'temporal.db'), '--gateway-port', '0'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let printed = '';
    let logged = '';
    dev.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    dev.stderr.on('data', (chunk: Buffer) => (logged += chunk.toString()));
    // Listened for from the start, so a dev that dies early is seen (and said) rather than awaited for ever.
    const exited = new Promise((r) => dev.once('exit', r));
    try {
      for (let i = 0; i < 600 && !existsSync(env.MODEL_ROUTER_DEV_SERVER_FILE) && dev.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(existsSync(env.MODEL_ROUTER_DEV_SERVER_FILE), `dev did not announce itself (exit code ${dev.exitCode}):\n${printed}\n${logged}`);
      assert.equal(JSON.parse(readFileSync(env.MODEL_ROUTER_DEV_SERVER_FILE, 'utf8')).address, `127.0.0.1:${port}`);
      // The route command's own decision log would be elsewhere: the row must come from the dev worker.
      const { code, stdout, stderr } = await runCli(['route', '--prompt', 'Classify: "where is my parcel"', '--task-type', 'classification', '--request-id', 'via-dev', '--json'], {
        env: { MODEL_ROUTER_DEV_SERVER_FILE: env.MODEL_ROUTER_DEV_SERVER_FILE, MODEL_ROUTER_DECISION_LOG: join(dir, 'route-decisions.sqlite') },
      });
      assert.equal(code, 0, stderr);
      assert.match(stderr, new RegExp(`routing through the running dev server at 127\\.0\\.0\\.1:${port}`));
      assert.equal(JSON.parse(stdout).requestId, 'via-dev');
      const rows = async () => {
        const { default: Database } = await import('better-sqlite3');
        const db = new Database(env.MODEL_ROUTER_DECISION_LOG, { readonly: true });
        try {
          return db.prepare('SELECT request_id FROM decision_log ORDER BY request_id').all();
        } finally {
          db.close();
        }
      };
      // Early return: the dev worker writes the row just after the answer.
      for (let i = 0; i < 50 && (await rows()).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(await rows(), [{ request_id: 'via-dev' }]);
      assert.equal(existsSync(join(dir, 'route-decisions.sqlite')), false, 'route started no worker of its own');

      // dev's gateway: its printed base URL and dev tenant key work with the official openai client.
      const baseURL = /^Gateway: +(http:\/\/127\.0\.0\.1:\d+\/v1) /m.exec(printed)?.[1];
      const apiKey = /^Dev tenant API key: +(sk-[A-Za-z0-9_-]{32,}) /m.exec(printed)?.[1];
      assert.ok(baseURL && apiKey, printed);
      const { default: OpenAI } = await import('openai');
      const openai = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
      const { data: completion, response } = await openai.chat.completions
        .create({ model: 'router', messages: [{ role: 'user', content: 'Classify: "my parcel is late"' }], metadata: { taskType: 'classification' } }, { headers: { 'Idempotency-Key': 'via-gateway' } })
        .withResponse();
      assert.equal(completion.object, 'chat.completion');
      assert.equal(response.headers.get('x-router-workflow-id'), 'route-dev-via-gateway');
      for (let i = 0; i < 50 && (await rows()).length < 2; i++) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(await rows(), [{ request_id: 'via-dev' }, { request_id: 'via-gateway' }]);
      await assert.rejects(new OpenAI({ baseURL, apiKey: `sk-${'x'.repeat(43)}`, maxRetries: 0 }).models.list(), OpenAI.AuthenticationError);
    } finally {
      dev.kill('SIGINT');
      await exited;
    }
    assert.equal(existsSync(env.MODEL_ROUTER_DEV_SERVER_FILE), false, 'dev withdraws its announcement when it stops');
  });

  it('route with a bad task type fails with the field and the rule, before any server starts', async () => {
    const { code, stdout, stderr } = await runCli(['route', '--prompt', 'hello', '--task-type', 'poetry', '--json']);
    assert.equal(code, 2);
    assert.equal(stdout, '');
    assert.match(stderr, /taskType: must be one of "classification".*got "poetry"/);
  });

  it('route without a prompt names the missing field', async () => {
    const { code, stderr } = await runCli(['route', '--json']);
    assert.equal(code, 2);
    assert.match(stderr, /prompt: is required/);
  });

  it('eval with an unknown strategy names the flag and the choices', async () => {
    const { code, stderr } = await runCli(['eval', '--data', 'x.jsonl', '--strategy', 'psychic']);
    assert.equal(code, 2);
    assert.match(stderr, /--strategy: must be one of rules, classifier, knn, bandit, random, oracle, best, cheapest, got "psychic"/);
  });

  it('eval on a missing data file says which file', async () => {
    const { code, stderr } = await runCli(['eval', '--data', '/nonexistent/outcomes.jsonl', '--strategy', 'rules', '--prices', join(ROOT, '..', 'shared', 'data', 'models.json')]);
    assert.equal(code, 1);
    assert.match(stderr, /cannot read outcome file \/nonexistent\/outcomes\.jsonl/);
  });

  it('eval with a broken model artefact names the artefact and the problem', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-artefact-'));
    const artefact = join(dir, 'model.json');
    writeFileSync(artefact, JSON.stringify({ formatVersion: 99 }));
    const data = join(ROOT, '..', 'shared', 'data', 'routellm', 'mt_bench.train.jsonl');
    const { code, stderr } = await runCli(['eval', '--data', data, '--strategy', 'classifier', '--model', artefact]);
    assert.equal(code, 2);
    assert.match(stderr, /classifier artefact .*model\.json.*formatVersion: unknown format version 99/);
  });

  it('train --target-retention stores the chosen operating point in the artefact', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'cli-train-')), 'mt-bench.json');
    const data = join(ROOT, '..', 'shared', 'data', 'routellm', 'mt_bench.train.jsonl');
    const { code, stderr } = await runCli(['train', '--data', data, '--out', out, '--target-retention', '0.95', '--gate-error', '0.1']);
    assert.equal(code, 0, stderr);
    const artefact = parseClassifierArtefactJson(readFileSync(out, 'utf8'));
    const point = artefact.operatingPoint;
    assert.ok(point, 'an operating point was stored');
    assert.equal(point.targetRetention, 0.95);
    assert.equal(point.gateError, 0.1);
    assert.ok(point.achievedRetention >= 0.95, `held-out retention ${point.achievedRetention} reaches the target`);
    assert.match(stderr, /operating point \(5-fold held-out\): λ=/);
  });

  it('--help, train and eval (without --through-temporal) load no @temporalio/* module; codec-server does', async () => {
    // A preload that records every require of a Temporal package, so the check sees the CLI's own module graph.
    const dir = mkdtempSync(join(tmpdir(), 'cli-no-temporal-'));
    const preload = join(dir, 'record-temporal.js');
    writeFileSync(
      preload,
      `const Module = require('node:module');
const { appendFileSync, writeFileSync } = require('node:fs');
const out = process.env.RECORD_TEMPORAL_TO;
writeFileSync(out, '');
const load = Module._load;
Module._load = function (request, parent, isMain) {
  if (typeof request === 'string' && request.startsWith('@temporalio/')) appendFileSync(out, request + '\\n');
  return load.apply(this, arguments);
};
`,
    );
    const data = join(ROOT, '..', 'shared', 'data', 'routellm', 'mt_bench.train.jsonl');
    const artefact = join(dir, 'model.json');
    const loaded = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
      const record = join(dir, `loaded-${args[0]}.txt`);
      const run = await runCli(args, { env: { ...env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${JSON.stringify(preload)}`, RECORD_TEMPORAL_TO: record } });
      assert.ok(existsSync(record), `the preload ran for ${args.join(' ')}`);
      return { ...run, temporal: [...new Set(readFileSync(record, 'utf8').split('\n').filter(Boolean))] };
    };

    const help = await loaded(['--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^model-router — /);
    assert.deepEqual(help.temporal, [], '--help');

    const trained = await loaded(['train', '--data', data, '--out', artefact]);
    assert.equal(trained.code, 0, trained.stderr);
    assert.ok(existsSync(artefact), 'train wrote its artefact');
    assert.deepEqual(trained.temporal, [], 'train');

    const evaluated = await loaded(['eval', '--data', data, '--strategy', 'classifier', '--model', artefact, '--json']);
    assert.equal(evaluated.code, 0, evaluated.stderr);
    assert.ok(JSON.parse(evaluated.stdout), 'eval printed its report');
    assert.deepEqual(evaluated.temporal, [], 'eval');

    // The control: a command that needs Temporal is seen loading it (it fails on the missing keys, after the load).
    const codec = await loaded(['codec-server'], { MODEL_ROUTER_CODEC_KEYS: '', MODEL_ROUTER_CODEC_KEY_FILE: '' });
    assert.equal(codec.code, 2, codec.stderr);
    assert.ok(codec.temporal.length > 0, 'codec-server loads @temporalio/* (the preload sees it)');
  });

  it('refuses integer options that are not plain decimal digits, naming the option', async () => {
    for (const [args, option] of [
      [['route', '--prompt', 'hello', '--field-count', ''], '--field-count'],
      [['route', '--prompt', 'hello', '--field-count', '0x10'], '--field-count'],
      [['route', '--prompt', 'hello', '--field-count', '1e3'], '--field-count'],
      [['route', '--prompt', 'hello', '--field-count', ' 5'], '--field-count'],
      [['dev', '--port', '0x1C91'], '--port'],
      [['dev', '--gateway-port', '70000'], '--gateway-port'],
      [['bench', 'bandit', '--outcomes', '1e3'], '--outcomes'],
      [['eval', '--data', 'x.jsonl', '--strategy', 'rules', '--lambda', '0x10'], '--lambda'],
    ] as const) {
      const { code, stdout, stderr } = await runCli([...args]);
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
      assert.equal(stdout, '');
      const value = args[args.length - 1]!;
      assert.ok(stderr.includes(`${option}: must be a `) && stderr.includes(`got "${value}"`), `${args.join(' ')}: ${stderr}`);
    }
  });

  it('route --prompt-file reads the prompt from a file, and --prompt-file - from standard input', async () => {
    const prompt = 'Is this ticket about billing or delivery?\n"I was charged twice for label QS-1182, and the parcel never came."\n';
    const file = join(mkdtempSync(join(tmpdir(), 'cli-prompt-')), 'prompt.txt');
    writeFileSync(file, prompt);
    for (const [source, stdin] of [[file, undefined], ['-', prompt]] as const) {
      const { code, stdout, stderr } = await runCli(['route', '--prompt-file', source, '--task-type', 'classification', '--json'], stdin === undefined ? {} : { stdin });
      assert.equal(code, 0, stderr);
      const log = DecisionLogSchema.parse(JSON.parse(stdout));
      assert.equal(log.requestFeatures.promptTokens, estimateTokens(prompt), `prompt from ${source}`);
    }
  });

  it('route --prompt-file: a missing file, or both prompt options, name the option', async () => {
    const missing = await runCli(['route', '--prompt-file', '/nonexistent/prompt.txt']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--prompt-file: cannot read "\/nonexistent\/prompt\.txt": ENOENT/);
    const both = await runCli(['route', '--prompt', 'hello', '--prompt-file', '-'], { stdin: 'hello' });
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--prompt-file: cannot be combined with --prompt/);
  });

  it('route --address where nothing answers names the address, without a stack trace or a local decision log', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const decisionLog = join(mkdtempSync(join(tmpdir(), 'cli-unreachable-')), 'decision-log.db');
    const { code, stdout, stderr } = await runCli(['route', '--prompt', 'hello', '--address', address], { env: { MODEL_ROUTER_DECISION_LOG: decisionLog } });
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(stderr, new RegExp(`^model-router: cannot reach Temporal at ${address.replace(/\./g, '\\.')}: `));
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
    assert.equal(existsSync(decisionLog), false);
  });
});
