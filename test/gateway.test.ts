import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import { RouterClient } from '../src/client';
import type { RouteRequest } from '../src/domain/request';
import type { DecisionLog } from '../src/domain/results';
import { routeWorkflowId } from '../src/domain/workflowIds';
import { createGateway, type GatewayOptions } from '../src/gateway/server';
import { connectGatewayTemporal } from '../src/gateway/temporal';
import { generateApiKey, hashApiKey, parseTenantsFile, writeTenantsFile } from '../src/gateway/tenants';
import { SimulatedProvider } from '../src/providers/simulated';
import type { ModelProvider } from '../src/providers/types';
import { freePort } from '../src/servers/localServer';
import { workflowCode } from '../src/worker/bundle';
import { loadRouterConfig } from '../src/worker/config';
import { createRouterWorker } from '../src/worker/createWorker';
import { wireActivityDeps, type Wiring } from '../src/worker/wiring';
import { runCli } from './helpers/cli';
import { devServerEnv } from './helpers/temporal';

/**
 * The gateway as a user meets it: the official `openai` client against a gateway on loopback, in front of a real
 * dev server and a real router worker on the simulated provider (wrapped to count its calls).
 */

const dir = mkdtempSync(join(tmpdir(), 'gateway-test-'));
const config = loadRouterConfig({});
const taskQueue = `gateway-test-${randomUUID()}`;
const key = { acme: generateApiKey(), narrow: generateApiKey(), limited: generateApiKey(), malformed: generateApiKey(), broke: generateApiKey() };
const tenantsFile = parseTenantsFile({
  tenants: [
    { id: 'acme', keys: [{ sha256: hashApiKey(key.acme) }], allowedPolicies: ['default', 'bandit'], defaultPolicy: 'default', rateLimit: { requestsPerMinute: 10_000 } },
    { id: 'narrow', keys: [{ sha256: hashApiKey(key.narrow) }], allowedPolicies: ['default'], defaultPolicy: 'default', rateLimit: { requestsPerMinute: 10_000 } },
    // One token a minute after a burst of two: the third request in a row is refused.
    { id: 'limited', keys: [{ sha256: hashApiKey(key.limited) }], allowedPolicies: ['default'], defaultPolicy: 'default', rateLimit: { requestsPerMinute: 1, burst: 2 } },
    { id: 'malformed', keys: [{ sha256: hashApiKey(key.malformed) }], allowedPolicies: ['default'], defaultPolicy: 'default', rateLimit: { requestsPerMinute: 10_000 } },
    // A millionth of a dollar a day covers no call of any catalog model.
    { id: 'broke', keys: [{ sha256: hashApiKey(key.broke) }], allowedPolicies: ['default'], defaultPolicy: 'default', rateLimit: { requestsPerMinute: 10_000 }, budget: { dailyUsd: 0.000001 } },
  ],
});
const BODY_LIMIT = 64 * 1024;

let env: TestWorkflowEnvironment;
let wiring: Wiring;
let worker: Worker;
let running: Promise<void>;
let router: RouterClient;
const gateways: FastifyInstance[] = [];
let baseURL: string;
/** Model calls the simulated provider answered, by request id. */
const calls = new Map<string, string[]>();

function counting(inner: ModelProvider): ModelProvider {
  return {
    name: inner.name,
    bills: inner.bills,
    complete(request) {
      calls.set(request.requestId, [...(calls.get(request.requestId) ?? []), request.model.id]);
      return inner.complete(request);
    },
  };
}

async function startGateway(overrides: Partial<GatewayOptions> = {}): Promise<string> {
  const gateway = createGateway({
    router,
    temporal: env.client,
    taskQueue,
    tenants: tenantsFile,
    catalogModels: config.catalog.models.map((m) => m.id),
    policyIds: [...config.policies.keys()],
    bodyLimitBytes: BODY_LIMIT,
    ...overrides,
  });
  gateways.push(gateway);
  const url = await gateway.listen({ port: 0, host: '127.0.0.1' });
  return `${url}/v1`;
}

const openai = (apiKey: string, url = baseURL) => new OpenAI({ apiKey, baseURL: url, maxRetries: 0 });

/** The request the workflow was started with, read back from its history. */
async function startedWith(workflowId: string): Promise<RouteRequest> {
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  assert.ok(payload, 'the run has an input');
  return defaultPayloadConverter.fromPayload(payload) as RouteRequest;
}

async function notStarted(tenant: string, requestId: string): Promise<void> {
  await assert.rejects(env.client.workflow.getHandle(routeWorkflowId(tenant, requestId)).describe(), WorkflowNotFoundError, `${requestId} started nothing`);
}

const CLASSIFY = 'Is this ticket about billing or delivery? "I was charged twice for order QS-1182"';

before(async () => {
  env = await devServerEnv();
  wiring = await wireActivityDeps(config, {}, { decisionLogPath: join(dir, 'decision-log.db') });
  const deps = { ...wiring.deps, providers: { simulated: counting(wiring.deps.providers.simulated!) } };
  worker = await createRouterWorker({ connection: env.nativeConnection, client: env.client, taskQueue, deps, workflows: workflowCode() });
  running = worker.run();
  router = new RouterClient({ client: env.client, taskQueue });
  baseURL = await startGateway();
});

after(async () => {
  for (const gateway of gateways) await gateway.close();
  worker.shutdown();
  await running;
  await wiring.close();
  await env.teardown();
  rmSync(dir, { recursive: true, force: true });
});

describe('gateway: answers through the official openai client', () => {
  it('routes a request: a chat.completion naming the model that answered, its usage, and the x-router-* headers', async () => {
    const { data, response } = await openai(key.acme)
      .chat.completions.create({ model: 'router', messages: [{ role: 'system', content: 'You sort support tickets.' }, { role: 'user', content: CLASSIFY }], metadata: { taskType: 'classification' } }, { headers: { 'Idempotency-Key': 'routed-1' } })
      .withResponse();
    const workflowId = response.headers.get('x-router-workflow-id');
    assert.equal(workflowId, 'route-acme-routed-1');
    const log = (await env.client.workflow.getHandle(workflowId).result()) as DecisionLog;
    // The default policy's "classification-small" rule sends it to the cheapest small model of config/catalog.json.
    assert.equal(log.selectedModel, 'gpt-4o-mini');
    assert.equal(log.tenant, 'acme');
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.id, 'chatcmpl-routed-1');
    assert.equal(data.model, log.finalModel);
    assert.equal(data.choices[0]!.message.content, log.answer);
    assert.equal(data.choices[0]!.finish_reason, 'stop');
    const kept = log.attempts.filter((a) => a.model === log.finalModel).at(-1)!;
    assert.deepEqual(data.usage, { prompt_tokens: kept.inputTokens, completion_tokens: kept.outputTokens, total_tokens: kept.inputTokens + kept.outputTokens });
    assert.equal(response.headers.get('x-router-request-id'), 'routed-1');
    assert.equal(response.headers.get('x-router-model'), log.finalModel);
    assert.equal(response.headers.get('x-router-escalated'), String(log.wasEscalated));
    assert.equal(response.headers.get('x-router-cost-usd'), log.costUsd.toFixed(8));
    assert.equal(response.headers.get('x-router-cost-saved-usd'), log.costSavedUsd.toFixed(8));
    assert.match(response.headers.get('x-router-decision') ?? '', /^(passed|failed) gate \(score [0-9.]+\): .*classification/i);
    // What reached the workflow: the system turn as history, the last user turn as the prompt, the metadata.
    const request = await startedWith(workflowId);
    assert.equal(request.prompt, CLASSIFY);
    assert.deepEqual(request.history, [{ role: 'system', content: 'You sort support tickets.' }]);
    assert.equal(request.taskType, 'classification');
    assert.equal(request.policyId, 'default');
  });

  it('streams: chunks in OpenAI format whose text joined is the non-streamed answer, then the usage chunk', async () => {
    const client = openai(key.acme);
    const body = { model: 'router', messages: [{ role: 'user' as const, content: 'Summarise: the parcel left the depot on Monday and arrived on Thursday, two days late, with a dented box.' }], metadata: { taskType: 'summarization' } };
    const plain = await client.chat.completions.create(body, { headers: { 'Idempotency-Key': 'stream-1' } });
    const { data: stream, response } = await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } }, { headers: { 'Idempotency-Key': 'stream-1' } }).withResponse();
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(response.headers.get('x-router-model'), plain.model);
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === 'chatcmpl-stream-1' && c.model === plain.model));
    const contentChunks = chunks.filter((c) => c.choices[0]?.delta.content);
    assert.ok(contentChunks.length > 1, `the answer came in ${contentChunks.length} pieces`);
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), plain.choices[0]!.message.content);
    assert.equal(chunks[0]!.choices[0]!.delta.role, 'assistant');
    assert.equal(chunks.filter((c) => c.choices[0]?.finish_reason === 'stop').length, 1);
    const last = chunks.at(-1)!;
    assert.deepEqual(last.choices, []);
    assert.deepEqual(last.usage, plain.usage);
    // Without include_usage no chunk carries usage.
    const bare = await client.chat.completions.create({ ...body, stream: true }, { headers: { 'Idempotency-Key': 'stream-1' } });
    const bareChunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of bare) bareChunks.push(chunk);
    assert.ok(bareChunks.every((c) => c.usage === undefined || c.usage === null));
    assert.equal(bareChunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), plain.choices[0]!.message.content);
  });

  it('a JSON-schema response format reaches the gate as the output schema, and the answer is that JSON', async () => {
    const { data, response } = await openai(key.acme)
      .chat.completions.create(
        {
          model: 'router',
          messages: [{ role: 'user', content: 'Extract the customer name and city: "Hi, this is Ana Lopez from Porto, my order never came."' }],
          metadata: { taskType: 'extraction', fieldCount: '2' },
          response_format: { type: 'json_schema', json_schema: { name: 'customer', strict: false, schema: { type: 'object', properties: { name: { type: 'string', description: 'full name' }, city: { type: 'string' } }, required: ['name', 'city'] } } },
        },
        { headers: { 'Idempotency-Key': 'schema-1' } },
      )
      .withResponse();
    const request = await startedWith(response.headers.get('x-router-workflow-id')!);
    assert.deepEqual(request.outputSchema, { type: 'object', properties: { name: { type: 'string' }, city: { type: 'string' } }, required: ['name', 'city'] });
    assert.equal(request.fieldCount, 2);
    const log = await router.result('acme', 'schema-1');
    // The simulated models answer a schema with a JSON object: every field when they pass, one missing when not.
    const answer = JSON.parse(data.choices[0]!.message.content!) as Record<string, unknown>;
    if (log.passed) {
      assert.equal(typeof answer.name, 'string');
      assert.equal(typeof answer.city, 'string');
    } else {
      assert.ok(log.attempts.some((a) => a.verdict?.reasons.some((r) => /field "(name|city)" is missing/.test(r))), 'the gate failed it on the schema');
    }
  });

  it('zodResponseFormat: a strict schema (additionalProperties: false, nested, enum, array) is gated as sent, and .parsed is the object', async () => {
    const Ticket = z.object({
      customer: z.string(),
      amount: z.number(),
      items: z.number().int(),
      urgent: z.boolean(),
      topic: z.enum(['billing', 'delivery']),
      tags: z.array(z.string()),
      address: z.object({ city: z.string(), country: z.string() }),
    });
    // A request the simulated gpt-4o answers correctly (its pass depends on the request id alone), so the answer kept is a passing one.
    const simulated = new SimulatedProvider();
    const id = Array.from({ length: 50 }, (_, i) => `zod-${i}`).find((candidate) => simulated.preview(candidate, 'gpt-4o', 'extraction', 'general', 0).passes)!;
    const { data, response } = await openai(key.acme)
      .chat.completions.parse(
        {
          model: 'gpt-4o',
          messages: [{ role: 'user', content: 'Extract the ticket: "Ana Lopez, Porto, Portugal: charged 12.50 twice for 3 items, please hurry"' }],
          metadata: { taskType: 'extraction' },
          response_format: zodResponseFormat(Ticket, 'ticket'),
        },
        { headers: { 'Idempotency-Key': id } },
      )
      .withResponse();
    // What the gate got: the schema as zod wrote it, additionalProperties: false at both levels.
    const request = await startedWith(response.headers.get('x-router-workflow-id')!);
    assert.deepEqual(request.outputSchema, {
      type: 'object',
      properties: {
        customer: { type: 'string' },
        amount: { type: 'number' },
        items: { type: 'integer' },
        urgent: { type: 'boolean' },
        topic: { type: 'string', enum: ['billing', 'delivery'] },
        tags: { type: 'array', items: { type: 'string' } },
        address: { type: 'object', properties: { city: { type: 'string' }, country: { type: 'string' } }, required: ['city', 'country'], additionalProperties: false },
      },
      required: ['customer', 'amount', 'items', 'urgent', 'topic', 'tags', 'address'],
      additionalProperties: false,
    });
    const log = await router.result('acme', id);
    assert.ok(log.passed, `the gate passed it: ${JSON.stringify(log.attempts.map((a) => a.verdict?.reasons))}`);
    const message = data.choices[0]!.message;
    assert.ok(message.parsed, 'the client parsed the answer');
    assert.deepEqual(message.parsed, Ticket.parse(JSON.parse(message.content!)));
    // Exactly the schema's fields, nothing added (a strict schema would refuse an extra one).
    assert.deepEqual(Object.keys(message.parsed).sort(), Object.keys(Ticket.shape).sort());
    assert.deepEqual(Object.keys(message.parsed.address).sort(), ['city', 'country']);
    assert.ok(['billing', 'delivery'].includes(message.parsed.topic));
    assert.ok(message.parsed.tags.every((tag) => typeof tag === 'string'));
  });

  it('a catalog model id answers alone: no routing, no escalation, still durable and logged', async () => {
    const { data, response } = await openai(key.acme).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: CLASSIFY }] }, { headers: { 'Idempotency-Key': 'pinned-1' } }).withResponse();
    assert.equal(data.model, 'gpt-4o');
    assert.equal(response.headers.get('x-router-escalated'), 'false');
    const log = await router.result('acme', 'pinned-1');
    assert.equal(log.strategy, 'pinned');
    assert.deepEqual(calls.get('pinned-1'), ['gpt-4o']);
    assert.equal(log.costSavedUsd, 0, 'the pinned model is its own best model');
  });

  it('Idempotency-Key: retried calls, concurrent or later, get the first run\'s answer without another model call', async () => {
    const client = openai(key.acme);
    const body = { model: 'router', messages: [{ role: 'user' as const, content: CLASSIFY }] };
    const headers = { 'Idempotency-Key': 'idem-1' };
    const [a, b] = await Promise.all([client.chat.completions.create(body, { headers }), client.chat.completions.create(body, { headers })]);
    const log = await router.result('acme', 'idem-1');
    const callsAfterFirst = calls.get('idem-1')?.length;
    assert.equal(callsAfterFirst, log.attempts.length, 'one model call per attempt of the one run');
    const c = await client.chat.completions.create(body, { headers });
    assert.equal(calls.get('idem-1')?.length, callsAfterFirst, 'the retry made no model call');
    for (const answer of [b, c]) assert.deepEqual(answer, a);
    // The same key with another question is a conflict, not the first question's answer.
    await assert.rejects(client.chat.completions.create({ ...body, messages: [{ role: 'user', content: 'Something else entirely' }] }, { headers }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.ConflictError, String(err));
      assert.equal(err.code, 'idempotency_key_reused');
      return true;
    });
    // Without a key every call is a request of its own.
    const [x, y] = await Promise.all([client.chat.completions.create(body).withResponse(), client.chat.completions.create(body).withResponse()]);
    assert.notEqual(x.response.headers.get('x-router-request-id'), y.response.headers.get('x-router-request-id'));
  });

  it('GET /v1/models lists the tenant\'s router policies and the catalog models', async () => {
    const ids = [];
    for await (const model of openai(key.acme).models.list()) ids.push(model.id);
    assert.deepEqual(ids, ['router', 'router/default', 'router/bandit', 'gpt-4o-mini', 'gpt-4.1-mini', 'gpt-4o']);
  });

  it('a client that disconnects mid-request does not cancel it: the run finishes and its answer can be fetched', async () => {
    const abort = new AbortController();
    const sent = fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.acme}`, 'content-type': 'application/json', 'idempotency-key': 'gone-1' },
      body: JSON.stringify({ model: 'router', stream: true, messages: [{ role: 'user', content: CLASSIFY }] }),
      signal: abort.signal,
    }).catch((err: unknown) => err);
    const handle = env.client.workflow.getHandle(routeWorkflowId('acme', 'gone-1'));
    for (let i = 0; i < 200 && !(await handle.describe().then(() => true, () => false)); i++) await sleep(25);
    abort.abort();
    assert.ok((await sent) instanceof Error, 'the client gave up');
    const log = await router.result('acme', 'gone-1');
    assert.equal(log.requestId, 'gone-1');
    assert.ok(log.answer.length > 0);
  });

  it('past the request timeout: 504 saying how to fetch the answer, which GET /v1/router/requests/:id then returns', async () => {
    const impatient = await startGateway({ requestTimeoutMs: 1 });
    await assert.rejects(openai(key.acme, impatient).chat.completions.create({ model: 'router', messages: [{ role: 'user', content: CLASSIFY }] }, { headers: { 'Idempotency-Key': 'slow-1' } }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.APIError, String(err));
      assert.equal(err.status, 504);
      assert.equal(err.code, 'request_timeout');
      assert.match(err.message, /GET \/v1\/router\/requests\/slow-1/);
      assert.equal(err.headers?.get('x-router-request-id'), 'slow-1');
      // With the caller's key a retry re-attaches to the same run: the client may retry it.
      assert.equal(err.headers?.get('x-should-retry'), null);
      return true;
    });
    const handle = env.client.workflow.getHandle(routeWorkflowId('acme', 'slow-1'));
    for (let i = 0; i < 200 && !(await handle.describe().then(() => true, () => false)); i++) await sleep(25);
    const fetched = await fetch(`${baseURL}/router/requests/slow-1`, { headers: { authorization: `Bearer ${key.acme}` } });
    assert.equal(fetched.status, 200);
    const completion = (await fetched.json()) as OpenAI.Chat.Completions.ChatCompletion;
    const log = (await handle.result()) as DecisionLog;
    assert.equal(completion.id, 'chatcmpl-slow-1');
    assert.equal(completion.choices[0]!.message.content, log.answer);
    assert.equal(fetched.headers.get('x-router-model'), log.finalModel);
    // Another tenant cannot read it.
    const foreign = await fetch(`${baseURL}/router/requests/slow-1`, { headers: { authorization: `Bearer ${key.narrow}` } });
    assert.equal(foreign.status, 404);
    assert.equal(((await foreign.json()) as { error: { code: string } }).error.code, 'request_not_found');
  });

  it('a 504 without an Idempotency-Key is not retried by the client: one durable request, one model call', async () => {
    // What the gateway asked the router to start, by request id: a retry the client made would show up here.
    const routed: string[] = [];
    const answers: Promise<DecisionLog>[] = [];
    const route = (input: Parameters<RouterClient['route']>[0]) => {
      routed.push(input.requestId);
      const answer = router.route(input);
      answers.push(answer);
      return answer;
    };
    const impatient = await startGateway({ requestTimeoutMs: 1, router: { route, result: (t, id) => router.result(t, id) } });
    // The client's default retries (2): without x-should-retry: false it would send the request three times.
    const client = new OpenAI({ apiKey: key.acme, baseURL: impatient });
    assert.equal(client.maxRetries, 2);
    let requestId: string | null | undefined;
    await assert.rejects(client.chat.completions.create({ model: 'router', messages: [{ role: 'user', content: CLASSIFY }] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.APIError, String(err));
      assert.equal(err.status, 504);
      assert.equal(err.headers?.get('x-should-retry'), 'false');
      requestId = err.headers?.get('x-router-request-id');
      return true;
    });
    assert.match(requestId ?? '', /^gw-/);
    assert.deepEqual(routed, [requestId]);
    // The 504 can leave before the run has even started: wait for the route the gateway began, then for the run's end.
    await answers[0];
    const log = (await env.client.workflow.getHandle(routeWorkflowId('acme', requestId!)).result()) as DecisionLog;
    assert.equal(calls.get(requestId!)?.length, log.attempts.length, 'one model call per attempt of the one run');
  });
});

describe('gateway: errors in OpenAI\'s shape, surfaced as the client\'s error classes', () => {
  it('a bad or missing key is an AuthenticationError', async () => {
    for (const apiKey of [generateApiKey(), 'sk-short', hashApiKey(key.acme)]) {
      await assert.rejects(openai(apiKey).chat.completions.create({ model: 'router', messages: [{ role: 'user', content: 'hi' }] }), (err: unknown) => {
        assert.ok(err instanceof OpenAI.AuthenticationError, String(err));
        assert.equal(err.code, 'invalid_api_key');
        assert.ok(!err.message.includes(apiKey), 'the key is not echoed');
        return true;
      });
    }
    const bare = await fetch(`${baseURL}/models`);
    assert.equal(bare.status, 401);
    assert.deepEqual(await bare.json(), { error: { message: "You didn't provide an API key. Send it in the Authorization header as 'Bearer sk-...'", type: 'invalid_request_error', param: null, code: 'missing_api_key' } });
  });

  it('an unknown model is a NotFoundError; a policy the tenant may not use is a PermissionDeniedError', async () => {
    for (const model of ['gpt-5-ultra', 'router/nope']) {
      await assert.rejects(openai(key.acme).chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }), (err: unknown) => {
        assert.ok(err instanceof OpenAI.NotFoundError, String(err));
        assert.equal(err.code, 'model_not_found');
        assert.equal(err.param, 'model');
        assert.match(err.message, new RegExp(`"${model}" does not exist`));
        return true;
      });
    }
    await assert.rejects(openai(key.narrow).chat.completions.create({ model: 'router/bandit', messages: [{ role: 'user', content: 'hi' }] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.PermissionDeniedError, String(err));
      assert.equal(err.code, 'policy_not_allowed');
      assert.match(err.message, /Policy "bandit" is not allowed for tenant "narrow" \(allowed: default\)/);
      return true;
    });
  });

  it('malformed bodies: each a 400 naming the field, and no workflow started', async () => {
    const user = [{ role: 'user' as const, content: 'hi' }];
    const schemaWith = (schema: unknown) => ({ model: 'router', messages: user, response_format: { type: 'json_schema', json_schema: { name: 'x', schema } } });
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      ['no model', { messages: user }, 'model', /model: is required/],
      ['model not a string', { model: 5, messages: user }, 'model', /must be string, got number/],
      ['no messages', { model: 'router' }, 'messages', /messages: is required/],
      ['empty messages', { model: 'router', messages: [] }, 'messages', /at least one message/],
      ['messages a string', { model: 'router', messages: 'hi' }, 'messages', /must be array, got string/],
      ['tool role', { model: 'router', messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].role', /must be one of "system", "developer", "user", "assistant", got "tool"/],
      ['content a number', { model: 'router', messages: [{ role: 'user', content: 5 }] }, 'messages[0].content', /must be a string or an array of text parts, got number/],
      ['image part', { model: 'router', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://x' } }] }] }, 'messages[0].content[0].type', /must be "text"/],
      ['last turn not the user\'s', { model: 'router', messages: [...user, { role: 'assistant', content: 'hello' }] }, 'messages[1].role', /last message must be the user's turn/],
      ['blank prompt', { model: 'router', messages: [{ role: 'user', content: '   ' }] }, 'messages[0].content', /must not be empty or only whitespace/],
      ['max_tokens 0', { model: 'router', messages: user, max_tokens: 0 }, 'max_tokens', /must be greater than 0/],
      ['max_tokens fractional', { model: 'router', messages: user, max_tokens: 1.5 }, 'max_tokens', /must be a whole number/],
      ['max_completion_tokens a string', { model: 'router', messages: user, max_completion_tokens: '100' }, 'max_completion_tokens', /must be number, got string/],
      ['temperature 3', { model: 'router', messages: user, temperature: 3 }, 'temperature', /must be from 0 to 2/],
      ['temperature a string', { model: 'router', messages: user, temperature: 'hot' }, 'temperature', /must be number, got string/],
      ['stream a string', { model: 'router', messages: user, stream: 'yes' }, 'stream', /must be boolean, got string/],
      ['stream_options without stream', { model: 'router', messages: user, stream_options: { include_usage: true } }, 'stream_options', /only allowed with stream: true/],
      ['unknown response_format', { model: 'router', messages: user, response_format: { type: 'xml' } }, 'response_format.type', /Invalid discriminator value/],
      ['json_object', { model: 'router', messages: user, response_format: { type: 'json_object' } }, 'response_format.type', /"json_object" is not supported/],
      ['schema name missing', { model: 'router', messages: user, response_format: { type: 'json_schema', json_schema: { schema: { type: 'object', properties: { a: { type: 'string' } } } } } }, 'response_format.json_schema.name', /is required/],
      ['schema not an object type', schemaWith({ type: 'array', items: { type: 'string' } }), 'response_format.json_schema.schema.items', /"items" cannot be checked by the quality gate/],
      ['enum on a number', schemaWith({ type: 'object', properties: { label: { type: 'number', enum: [1, 2] } } }), 'response_format.json_schema.schema.properties.label.enum', /"enum" is only for type "string", not "number"/],
      ['enum of numbers', schemaWith({ type: 'object', properties: { label: { type: 'string', enum: [1, 2] } } }), 'response_format.json_schema.schema.properties.label.enum', /must be a non-empty array of strings/],
      ['format in a nested property', schemaWith({ type: 'object', properties: { who: { type: 'object', properties: { email: { type: 'string', format: 'email' } } } } }), 'response_format.json_schema.schema.properties.who.properties.email.format', /"format" cannot be checked by the quality gate/],
      ['a bound on an integer', schemaWith({ type: 'object', properties: { n: { type: 'integer', minimum: 0 } } }), 'response_format.json_schema.schema.properties.n.minimum', /"minimum" cannot be checked/],
      ['nested eleven levels deep', schemaWith(Array.from({ length: 10 }).reduce<Record<string, unknown>>((inner) => ({ type: 'object', properties: { x: inner } }), { type: 'object', properties: { leaf: { type: 'string' } } })), `response_format.json_schema.schema${'.properties.x'.repeat(10)}.properties.leaf`, /nests more than 10 levels deep/],
      ['nullable type list', schemaWith({ type: 'object', properties: { when: { type: ['string', 'null'] } } }), 'response_format.json_schema.schema.properties.when.type', /must be one of "string", "number", "integer", "boolean", "array", "object"/],
      ['additionalProperties a schema', schemaWith({ type: 'object', properties: { a: { type: 'string' } }, additionalProperties: { type: 'string' } }), 'response_format.json_schema.schema.additionalProperties', /must be true or false/],
      ['required names a missing field', schemaWith({ type: 'object', properties: { a: { type: 'string' } }, required: ['b'] }), 'response_format.json_schema.schema.required[0]', /names "b", which is not one of properties/],
      ['no properties', schemaWith({ type: 'object', properties: {} }), 'response_format.json_schema.schema.properties', /at least one field/],
      ['unknown taskType', { model: 'router', messages: user, metadata: { taskType: 'poetry' } }, 'metadata.taskType', /must be one of "classification".*got "poetry"/],
      ['fieldCount not a number', { model: 'router', messages: user, metadata: { fieldCount: 'many' } }, 'metadata.fieldCount', /must be number, got string/],
      ['unknown customerTier', { model: 'router', messages: user, metadata: { customerTier: 'gold' } }, 'metadata.customerTier', /got "gold"/],
      ['n 2', { model: 'router', messages: user, n: 2 }, 'n', /must be 1: the router returns one answer/],
      ['user a number', { model: 'router', messages: user, user: 5 }, 'user', /must be string, got number/],
      ['tools', { model: 'router', messages: user, tools: [{ type: 'function', function: { name: 'f' } }] }, 'tools', /not supported/],
    ];
    const client = openai(key.malformed);
    for (const [i, [name, body, param, message]] of cases.entries()) {
      await assert.rejects(client.chat.completions.create(body as never, { headers: { 'Idempotency-Key': `bad-${i}` } }), (err: unknown) => {
        assert.ok(err instanceof OpenAI.BadRequestError, `${name}: ${String(err)}`);
        assert.equal(err.param, param, `${name}: ${err.message}`);
        assert.equal(err.type, 'invalid_request_error');
        assert.match(err.message, message, name);
        return true;
      });
      await notStarted('malformed', `bad-${i}`);
    }
    // Unknown fields are ignored, as OpenAI's server does: this one is answered.
    const ignored = await client.chat.completions.create({ model: 'router', messages: [{ role: 'user', content: CLASSIFY }], frobnicate: true, seed: 3 } as never, { headers: { 'Idempotency-Key': 'ignored-1' } });
    assert.equal(ignored.object, 'chat.completion');
    // A bad Idempotency-Key, a body that is not JSON, and one over the body limit.
    await assert.rejects(client.chat.completions.create({ model: 'router', messages: user }, { headers: { 'Idempotency-Key': 'not a key!' } }), (err: unknown) => err instanceof OpenAI.BadRequestError && err.param === 'Idempotency-Key');
    const notJson = await fetch(`${baseURL}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key.malformed}`, 'content-type': 'application/json' }, body: '{"model": "router", "messages": [' });
    assert.equal(notJson.status, 400);
    assert.match(((await notJson.json()) as { error: { message: string } }).error.message, /could not parse the JSON body/);
    await assert.rejects(client.chat.completions.create({ model: 'router', messages: [{ role: 'user', content: 'x'.repeat(BODY_LIMIT) }] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.APIError, String(err));
      assert.equal(err.status, 413);
      assert.equal(err.code, 'request_too_large');
      return true;
    });
    // Nothing of this tenant's but the one good request ever started.
    const started = [];
    for await (const run of env.client.workflow.list({ query: 'Tenant = "malformed"' })) started.push(run.workflowId);
    assert.ok(started.every((id) => id === routeWorkflowId('malformed', 'ignored-1')), started.join(', '));
  });

  it('past the tenant\'s rate limit: a RateLimitError with Retry-After', async () => {
    const client = openai(key.limited);
    // The burst of two; bad bodies spend tokens too (the limit counts requests), and start nothing.
    for (let i = 0; i < 2; i++) await assert.rejects(client.chat.completions.create({ model: 'router', messages: [] }), OpenAI.BadRequestError);
    await assert.rejects(client.chat.completions.create({ model: 'router', messages: [{ role: 'user', content: 'hi' }] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.RateLimitError, String(err));
      assert.equal(err.code, 'rate_limit_exceeded');
      // One token a minute, none left: a whole minute less the moment the two requests took.
      const retryAfter = Number(err.headers?.get('retry-after'));
      assert.ok(Number.isInteger(retryAfter) && retryAfter >= 50 && retryAfter <= 60, `Retry-After ${retryAfter}`);
      return true;
    });
    // Other tenants keep their own buckets.
    assert.equal((await openai(key.acme).chat.completions.create({ model: 'router', messages: [{ role: 'user', content: CLASSIFY }] })).object, 'chat.completion');
  });

  it('a spent budget is a 429 insufficient_quota (a RateLimitError), before any model call', async () => {
    await assert.rejects(openai(key.broke).chat.completions.create({ model: 'router', messages: [{ role: 'user', content: CLASSIFY }], max_tokens: 100 }, { headers: { 'Idempotency-Key': 'broke-1' } }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.RateLimitError, String(err));
      assert.equal(err.code, 'insufficient_quota');
      assert.equal(err.type, 'insufficient_quota');
      // Retrying at once meets the same refusal: the client is told not to.
      assert.equal(err.headers?.get('x-should-retry'), 'false');
      return true;
    });
    assert.equal(calls.get('broke-1'), undefined, 'no model was called');
    const request = await startedWith(routeWorkflowId('broke', 'broke-1'));
    const started = request as RouteRequest & { tenantBudget?: unknown; maxOutputTokens?: number };
    assert.deepEqual(started.tenantBudget, { dailyUsd: 0.000001 });
    assert.equal(started.maxOutputTokens, 100);
  });
});

describe('gateway: health and readiness', () => {
  it('/healthz is the process; /readyz is Temporal reachable and a worker polling the task queue', async () => {
    assert.deepEqual(await (await fetch(`${baseURL.replace(/\/v1$/, '')}/healthz`)).json(), { status: 'ok' });
    const ready = await fetch(`${baseURL.replace(/\/v1$/, '')}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(((await ready.json()) as { workflowPollers: number }).workflowPollers, 1);
    const idle = await startGateway({ taskQueue: 'nobody-polls-this' });
    const notReady = await fetch(`${idle.replace(/\/v1$/, '')}/readyz`);
    assert.equal(notReady.status, 503);
    assert.match(((await notReady.json()) as { reason: string }).reason, /no worker is polling task queue "nobody-polls-this"/);
  });

  it('Temporal unreachable: 503 from the API (an InternalServerError) and from /readyz', async () => {
    const down = connectGatewayTemporal(`127.0.0.1:${await freePort()}`, {});
    try {
      const url = await startGateway({ router: down.router, temporal: down.client });
      await assert.rejects(openai(key.acme, url).chat.completions.create({ model: 'router', messages: [{ role: 'user', content: CLASSIFY }] }, { headers: { 'Idempotency-Key': 'down-1' } }), (err: unknown) => {
        assert.ok(err instanceof OpenAI.InternalServerError, String(err));
        assert.equal(err.status, 503);
        assert.equal(err.code, 'temporal_unavailable');
        return true;
      });
      const ready = await fetch(`${url.replace(/\/v1$/, '')}/readyz`);
      assert.equal(ready.status, 503);
      assert.match(((await ready.json()) as { reason: string }).reason, /Temporal is unreachable/);
    } finally {
      await down.close();
    }
  });
});

describe('model-router serve (built CLI)', () => {
  it('serves the tenants file in front of the workers at --address: ready, answers the openai client, and reloads the file when it changes', async () => {
    const tenantsPath = join(dir, 'serve-tenants.json');
    writeTenantsFile(tenantsPath, tenantsFile);
    const port = await freePort();
    const cli = join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
    const child = spawn(process.execPath, [cli, 'serve', '--port', String(port), '--address', env.address, '--tenants', tenantsPath], {
      env: { ...process.env, MODEL_ROUTER_TASK_QUEUE: taskQueue, MODEL_ROUTER_CONTENT_DIR: join(dir, 'content') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      for (let i = 0; i < 400 && !/Readiness:/.test(output) && child.exitCode === null; i++) await sleep(25);
      assert.match(output, new RegExp(`Gateway: +http://127\\.0\\.0\\.1:${port}/v1 \\(OpenAI-compatible; 5 tenant\\(s\\)`));
      assert.match(output, /Readiness: ready/);
      const answer = await openai(key.acme, `http://127.0.0.1:${port}/v1`).chat.completions.create({ model: 'router', messages: [{ role: 'user', content: CLASSIFY }] }, { headers: { 'Idempotency-Key': 'served-1' } });
      assert.equal(answer.choices[0]!.message.content, (await router.result('acme', 'served-1')).answer);

      // A key added to the file while serve runs works without a restart; a broken file changes nothing.
      const added = await runCli(['keys', 'add', '--tenant', 'acme', '--tenants', tenantsPath]);
      assert.equal(added.code, 0, added.stderr);
      const newKey = /sk-[A-Za-z0-9_-]{43}/.exec(added.stdout)?.[0];
      assert.ok(newKey, added.stdout);
      const models = () => openai(newKey, `http://127.0.0.1:${port}/v1`).models.list();
      for (let i = 0; i < 120 && !/reloaded: 5 tenant/.test(output); i++) await sleep(50);
      assert.match(output, /tenants file .*serve-tenants\.json reloaded: 5 tenant\(s\)/);
      assert.ok((await models()).data.some((m) => m.id === 'router'));
      writeFileSync(tenantsPath, '{"tenants": [{"id": "acme"}]}');
      for (let i = 0; i < 120 && !/not reloaded/.test(output); i++) await sleep(50);
      assert.match(output, /not reloaded, the previous one stays in force: .*tenants\.0\.keys/);
      assert.ok((await models()).data.length > 0, 'the key from the last good file still works');
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0, output);
  });
});
