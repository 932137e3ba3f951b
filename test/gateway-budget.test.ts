import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import OpenAI from 'openai';
import { RouterClient } from '../src/client';
import type { DecisionLog } from '../src/domain/results';
import { routeWorkflowId } from '../src/domain/workflowIds';
import { createGateway } from '../src/gateway/server';
import { generateApiKey, hashApiKey, parseTenantsFile } from '../src/gateway/tenants';
import type { ModelProvider } from '../src/providers/types';
import { workflowCode } from '../src/worker/bundle';
import { loadRouterConfig } from '../src/worker/config';
import { createRouterWorker } from '../src/worker/createWorker';
import { wireActivityDeps, type Wiring } from '../src/worker/wiring';
import { devServerEnv } from './helpers/temporal';

/**
 * Issue 11's budget race through the gateway: 200 concurrent chat completions from the official openai client
 * against a tenant whose daily budget covers about 50 of them at their worst case. The budget workflow must keep
 * settled spend under the cap however the reservations interleave, refuse the rest as insufficient_quota, and lose
 * none: every request is answered or refused, and the answered rows add up to what the ledger charged.
 */

const REQUESTS = 200;
const COVERED = 50;
const MODEL = 'gpt-4o-mini';
// A question: the simulated gpt-4o-mini answers qa with about 150 tokens (600 characters ÷ 4, ±25 %), so
// max_tokens 300 is a worst case about twice the real cost, and settles release money while others reserve.
const MAX_TOKENS = 300;
const PROMPT = 'In two or three sentences: why does a parcel sent by sea take longer to clear customs than one sent by air?';

const dir = mkdtempSync(join(tmpdir(), 'gateway-budget-test-'));
const config = loadRouterConfig({});
const taskQueue = `gateway-budget-test-${randomUUID()}`;
const model = config.catalog.models.find((m) => m.id === MODEL)!;
// The reservation's worst case, by hand: the simulated provider has no tokenizer, so the input is characters ÷ 4
// (rounded up, one user message, no history), plus every output token max_tokens allows, at the catalog's prices.
const inputTokens = Math.ceil(PROMPT.length / 4);
const worstCaseUsd = (inputTokens * model.inputUsdPer1M + MAX_TOKENS * model.outputUsdPer1M) / 1_000_000;
// Half a request over 50 worst cases, so that float rounding of the cap cannot decide whether the 50th fits.
const capUsd = Number(((COVERED + 0.5) * worstCaseUsd).toFixed(9));
const apiKey = generateApiKey();
const tenantsFile = parseTenantsFile({
  tenants: [{ id: 'racer', keys: [{ sha256: hashApiKey(apiKey) }], allowedPolicies: ['default'], defaultPolicy: 'default', rateLimit: { requestsPerMinute: 100_000, burst: 1_000 }, budget: { dailyUsd: capUsd } }],
});

let env: TestWorkflowEnvironment;
let wiring: Wiring;
let worker: Worker;
let running: Promise<void>;
let router: RouterClient;
let gateway: FastifyInstance;
let baseURL: string;
/** Model calls by request id. */
const calls = new Map<string, number>();

function counting(inner: ModelProvider): ModelProvider {
  return {
    name: inner.name,
    bills: inner.bills,
    complete(request) {
      calls.set(request.requestId, (calls.get(request.requestId) ?? 0) + 1);
      return inner.complete(request);
    },
  };
}

before(async () => {
  env = await devServerEnv();
  wiring = await wireActivityDeps(config, {}, { decisionLogPath: join(dir, 'decision-log.db') });
  const deps = { ...wiring.deps, providers: { simulated: counting(wiring.deps.providers.simulated!) } };
  worker = await createRouterWorker({ connection: env.nativeConnection, client: env.client, taskQueue, deps, workflows: workflowCode() });
  running = worker.run();
  router = new RouterClient({ client: env.client, taskQueue });
  gateway = createGateway({ router, temporal: env.client, taskQueue, tenants: tenantsFile, catalogModels: config.catalog.models.map((m) => m.id), policyIds: [...config.policies.keys()] });
  baseURL = `${await gateway.listen({ port: 0, host: '127.0.0.1' })}/v1`;
});

after(async () => {
  await gateway?.close();
  worker?.shutdown();
  await running;
  await wiring?.close();
  await env?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

type Outcome = { id: string; answered: true; completion: OpenAI.Chat.Completions.ChatCompletion } | { id: string; answered: false; error: unknown };

describe('gateway: the budget race', () => {
  it(`${REQUESTS} concurrent requests against a budget covering ${COVERED}: spend within the cap, the rest insufficient_quota, none lost`, async (t) => {
    // No retries: a retried refusal could turn into an answer (or a second refusal) and hide what happened.
    const client = new OpenAI({ apiKey, baseURL, maxRetries: 0, timeout: 120_000 });
    const ids = Array.from({ length: REQUESTS }, (_, i) => `race-${i}`);
    const outcomes: Outcome[] = await Promise.all(
      ids.map((id) =>
        client.chat.completions
          .create({ model: MODEL, messages: [{ role: 'user', content: PROMPT }], max_tokens: MAX_TOKENS, metadata: { taskType: 'qa' } }, { headers: { 'Idempotency-Key': id } })
          .then((completion) => ({ id, answered: true as const, completion }), (error: unknown) => ({ id, answered: false as const, error })),
      ),
    );

    const answered = outcomes.filter((o) => o.answered);
    const refused = outcomes.filter((o) => !o.answered);
    for (const o of refused) {
      assert.ok(o.error instanceof OpenAI.RateLimitError, `${o.id}: ${String(o.error)}`);
      assert.equal(o.error.code, 'insufficient_quota', o.id);
      assert.equal(calls.get(o.id), undefined, `${o.id} was refused before any model call`);
    }
    for (const o of answered) assert.equal(o.completion.object, 'chat.completion', o.id);
    assert.equal(answered.length + refused.length, REQUESTS);
    assert.deepEqual(new Set(outcomes.map((o) => o.id)), new Set(ids), 'every request has an outcome of its own');

    // The answer leaves before the settle; a run ends once its settles have landed. Wait for all 200 to end.
    const logs = new Map<string, DecisionLog>();
    await Promise.all(
      ids.map(async (id) => {
        const result = await env.client.workflow.getHandle(routeWorkflowId('racer', id)).result().catch(() => undefined);
        if (result) logs.set(id, result as DecisionLog);
      }),
    );
    assert.deepEqual([...logs.keys()].sort(), answered.map((o) => o.id).sort(), 'the runs that completed are the requests answered');

    const view = await router.getBudget('racer');
    assert.equal(view.day.capUsd, capUsd);
    assert.ok(view.day.spentUsd <= capUsd, `spent ${view.day.spentUsd} <= cap ${capUsd}`);
    assert.deepEqual(view.reservations, [], 'no reservation left open');
    assert.equal(view.day.reservedUsd, 0);
    assert.equal(view.month.spentUsd, view.day.spentUsd);

    // Each answered request made one call of the pinned model and paid less than its worst case.
    const costs = answered.map((o) => logs.get(o.id)!.costUsd);
    for (const o of answered) {
      assert.equal(calls.get(o.id), 1, `${o.id}: one model call`);
      const cost = logs.get(o.id)!.costUsd;
      assert.ok(cost > 0 && cost <= worstCaseUsd + 1e-12, `${o.id} cost ${cost} within its worst case ${worstCaseUsd}`);
    }

    // A reservation is refused only when spent + reserved + one worst case would cross the cap, and every admitted
    // request holds at most one worst case: a refusal means more than cap - worstCase = 49.5 worst cases were
    // held, i.e. at least 50 requests admitted. At most: the cap over the cheapest answer actually paid.
    const cheapest = Math.min(...costs);
    assert.ok(answered.length >= COVERED, `answered ${answered.length} >= ${COVERED}`);
    assert.ok(answered.length <= Math.floor(capUsd / cheapest), `answered ${answered.length} <= cap / cheapest answer = ${Math.floor(capUsd / cheapest)}`);
    // The race was real: the budget did not cover everyone.
    assert.ok(refused.length > 0, 'some requests were refused');

    // The ledger charged exactly what the answers cost (to the nano-dollar it counts in, per settle).
    const rowsSum = costs.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(rowsSum - view.day.spentUsd) <= answered.length * 1e-9, `rows ${rowsSum} vs ledger ${view.day.spentUsd}`);
    // And the decision-log rows, written after the settles, say the same: one row per answered request.
    let rows: DecisionLog[] = [];
    for (let i = 0; i < 200; i++) {
      rows = (await wiring.store.all()).filter((r) => r.tenant === 'racer');
      if (rows.length >= answered.length) break;
      await sleep(50);
    }
    assert.deepEqual(rows.map((r) => r.requestId).sort(), answered.map((o) => o.id).sort(), 'one row per answered request, none for a refused one');
    const rowCost = rows.reduce((a, r) => a + r.costUsd, 0);
    assert.ok(Math.abs(rowCost - view.day.spentUsd) <= rows.length * 1e-9, `row costs ${rowCost} vs ledger ${view.day.spentUsd}`);

    t.diagnostic(
      `budget race: ${REQUESTS} requests, answered ${answered.length}, refused ${refused.length} (insufficient_quota), spent $${view.day.spentUsd.toFixed(9)} of cap $${capUsd} ` +
        `(${(100 * view.day.spentUsd / capUsd).toFixed(1)} %); worst case/request $${worstCaseUsd.toExponential(4)}, actual $${cheapest.toExponential(4)}-$${Math.max(...costs).toExponential(4)}`,
    );
  });
});
