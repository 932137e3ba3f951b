import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { fileStrategyEnv } from '../src/activities/fileCache';
import { routeWorkflowId } from '../src/client';
import { escalationLadder } from '../src/routing/ladder';
import { createRouterWorker } from '../src/worker/createWorker';
import { wireActivityDeps } from '../src/worker/wiring';
import { RoutingToEndClient } from './helpers/routerClient';
import { catalogWithJudges, defaultPolicies } from './helpers/catalog';
import { chatCompletion, startOpenAIServer, type OpenAIServer, type ScriptHandler } from './helpers/openaiServer';
import { devServerEnv, installRuntimeLogger, workflowBundle } from './helpers/temporal';

/** Everything the worker's Runtime logged (SDK, workflows and Core), with errors and their causes spelled out. */
const workerLog: string[] = [];
installRuntimeLogger(new DefaultLogger('TRACE', (entry) => workerLog.push(inspect(entry, { depth: null }))));

/** And anything written straight to the process's stdout or stderr while the workers run. */
const consoleOutput: string[] = [];
function captureStream(stream: NodeJS.WriteStream): void {
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    consoleOutput.push(String(chunk));
    return write(chunk, ...rest);
  }) as NodeJS.WriteStream['write'];
}

/** Protobuf payloads are bytes (base64 in the proto's own JSON): decode them, so a secret in a payload is text. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}
const historyText = (history: unknown): string => JSON.stringify(plain(history));

/**
 * An endpoint that fails the way real ones do when they echo the caller's credentials: a 401 naming the key, an
 * HTML 500 quoting the Authorization header, a 429 naming the key, a judge 503 quoting the header; then the
 * medium model and the judge answer, so the request completes after one escalation.
 */
function echoingCredentials(server: () => OpenAIServer, secretOf: (authorization: string) => string): ScriptHandler {
  const seen: Record<string, number> = {};
  return (body, callIndex) => {
    const n = (seen[body.model] = (seen[body.model] ?? 0) + 1);
    const authorization = String(server().calls[callIndex]!.headers.authorization ?? '');
    const secret = secretOf(authorization);
    if (body.model === 'judge-model') {
      if (n === 1) return { status: 503, json: { error: `bad gateway: upstream refused authorization=${authorization}` } };
      return { json: chatCompletion('judge-model', JSON.stringify({ score: 10, reason: 'right' })) };
    }
    if (body.model === 'small-model') {
      return { status: 401, json: { error: { message: `Incorrect API key provided: ${secret}. Header was "Authorization: ${authorization}"` } } };
    }
    if (body.model === 'medium-model' && n === 1) {
      return { status: 500, body: `<html><body>upstream failed. Request headers: Authorization: ${authorization}; key ${secret}</body></html>` };
    }
    if (body.model === 'medium-model' && n === 2) {
      return { status: 429, headers: { 'retry-after-ms': '50' }, json: { error: { message: `Rate limit reached for ${secret}` } } };
    }
    return { json: chatCompletion(body.model, `answer from ${body.model}`, { prompt_tokens: 100, completion_tokens: 50 }) };
  };
}

describe('credentials never reach history, the decision log or the worker log', () => {
  let env: TestWorkflowEnvironment;
  const dirs: string[] = [];
  const servers: OpenAIServer[] = [];

  before(async () => {
    [env] = await Promise.all([devServerEnv(), workflowBundle()]);
    captureStream(process.stdout);
    captureStream(process.stderr);
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await env?.teardown();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** Routes one classification request through a worker wired from `env`, and returns every text it left behind. */
  async function routeAndCollect(requestId: string, workerEnv: NodeJS.ProcessEnv): Promise<{ texts: Record<string, string>; finalModel: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'secrets-'));
    dirs.push(dir);
    const decisionLogPath = join(dir, 'decision-log.db');
    const catalog = catalogWithJudges('openai', ['judge-model']);
    const config = { catalog, policies: defaultPolicies(), strategyEnv: fileStrategyEnv(escalationLadder(catalog.models)) };
    const wiring = await wireActivityDeps(config, { MODEL_ROUTER_JUDGE_MODEL: 'judge-model', ...workerEnv }, { decisionLogPath });
    const taskQueue = `secrets-${requestId}`;
    const worker = await createRouterWorker({ connection: env.nativeConnection, taskQueue, workflows: { bundle: await workflowBundle() }, deps: wiring.deps });
    const logLinesBefore = workerLog.length;
    const consoleBefore = consoleOutput.length;
    const router = new RoutingToEndClient({ client: env.client, taskQueue });
    const log = await worker.runUntil(router.route({ requestId, prompt: 'Classify the intent of: "Where is my parcel?"', taskType: 'classification' }));
    await wiring.close();

    const history = await env.client.workflow.getHandle(routeWorkflowId('default', requestId)).fetchHistory();
    const db = new Database(decisionLogPath, { readonly: true });
    const rows = db.prepare('SELECT * FROM decision_log').all();
    db.close();
    assert.equal(rows.length, 1, 'the request wrote its decision-log row');
    return {
      finalModel: log.finalModel,
      texts: {
        history: historyText(history),
        'decision log': JSON.stringify(rows),
        'worker log': workerLog.slice(logLinesBefore).join('\n'),
        'stdout/stderr': consoleOutput.slice(consoleBefore).join(''),
      },
    };
  }

  function assertAbsent(texts: Record<string, string>, secrets: Record<string, string>): void {
    for (const [where, text] of Object.entries(texts)) {
      for (const [what, secret] of Object.entries(secrets)) {
        const at = text.indexOf(secret);
        assert.equal(at, -1, `${what} found in the ${where}: ...${text.slice(Math.max(0, at - 120), at + secret.length + 40)}...`);
      }
    }
    // The errors were copied (their redacted text is there), so an absent secret means redaction, not silence.
    const copied = {
      history: ['Incorrect API key provided: [redacted]', 'Rate limit reached for [redacted]', 'upstream refused authorization=[redacted]'],
      'decision log': ['Incorrect API key provided: [redacted]'],
      'worker log': ['Incorrect API key provided: [redacted]', 'Authorization: [redacted]; key [redacted]', 'Rate limit reached for [redacted]', 'authorization=[redacted]'],
    };
    for (const [where, echoes] of Object.entries(copied)) {
      for (const echo of echoes) assert.ok(texts[where]!.includes(echo), `the ${where} holds the redacted echo "${echo}"`);
    }
  }

  it('an API key echoed by error bodies is redacted everywhere', { timeout: 120_000 }, async () => {
    const key = `sk-planted-${randomUUID()}`;
    const server = await startOpenAIServer(echoingCredentials(() => server, () => key));
    servers.push(server);

    const { texts, finalModel } = await routeAndCollect('secret-api-key', { OPENAI_BASE_URL: server.baseUrl, OPENAI_API_KEY: key });

    assert.equal(finalModel, 'medium-model');
    assert.ok(server.calls.every((c) => c.headers.authorization === `Bearer ${key}`), 'the server received the planted key');
    assertAbsent(texts, { 'the API key': key });
  });

  it('credentials in OPENAI_BASE_URL are sent as Basic auth and redacted everywhere', { timeout: 120_000 }, async () => {
    // Not sk-shaped: only the provider's knowledge of its own secret can redact it.
    const password = `planted-${randomUUID()}`;
    const basic = Buffer.from(`router:${password}`).toString('base64');
    const server = await startOpenAIServer(
      echoingCredentials(
        () => server,
        (authorization) => Buffer.from(authorization.replace(/^Basic /, ''), 'base64').toString('utf8').split(':')[1] ?? '',
      ),
    );
    servers.push(server);
    const baseUrl = server.baseUrl.replace('http://', `http://router:${password}@`);

    const { texts, finalModel } = await routeAndCollect('secret-url-credentials', { OPENAI_BASE_URL: baseUrl });

    assert.equal(finalModel, 'medium-model');
    assert.ok(server.calls.every((c) => c.headers.authorization === `Basic ${basic}`), 'the server received the planted credentials');
    assertAbsent(texts, { 'the URL password': password, 'the Basic credentials': basic, 'the URL with credentials': `router:${password}@` });
  });
});
