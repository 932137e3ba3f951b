import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { MockActivityEnvironment, type TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../src/activities';
import type { BudgetReservation } from '../src/activities/budget';
import { RouteFailedError, RouterClient } from '../src/client';
import { budgetWorkflowId } from '../src/domain/workflowIds';
import type { RouteRequestInput } from '../src/domain/request';
import { createRouterWorker } from '../src/worker/createWorker';
import { budgetLedgerQuery, budgetViewQuery, reserveUpdate, settleUpdate, type budget } from '../src/workflows/budget';
import { RoutingToEndClient } from './helpers/routerClient';
import { waitFor } from './helpers/childWorker';
import { HARD_MARKER, judgedModels, loopbackDeps } from './helpers/loopbackRouter';
import { chatCompletion, startOpenAIServer, type OpenAIServer } from './helpers/openaiServer';
import { devServerEnv, workflowBundle } from './helpers/temporal';

/** small-model's answer: the loopback server reports 100 prompt and 50 completion tokens, (100 × 0.15 + 50 × 0.6) / 1M. */
const SMALL_ANSWER_USD = 0.000045;
/**
 * A judgement: 10 prompt tokens and the reply's characters ÷ 4 at $0.1 per 1M. '{"score":3,"reason":"wrong"}' is 28
 * characters (7 tokens), '{"score":10,"reason":"right"}' 29 (8 tokens).
 */
const FAILING_JUDGEMENT_USD = (10 + 7) * 0.1 / 1e6;
const PASSING_JUDGEMENT_USD = (10 + 8) * 0.1 / 1e6;
const near = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual}, expected ${expected}`);

describe('tenant budgets on the Temporal dev server', () => {
  let env: TestWorkflowEnvironment;
  let server: OpenAIServer;
  /** The small model's first call for a prompt holding "[hang]" waits until the test shuts its worker down. */
  let hangs = 0;

  before(async () => {
    const handler = judgedModels();
    [env, server] = await Promise.all([
      devServerEnv(),
      startOpenAIServer((body, i) => {
        const prompt = body.messages.map((m) => m.content).join('\n');
        if (body.model === 'small-model' && prompt.includes('[hang]') && hangs++ === 0) return { delayMs: 10 * 60_000, json: chatCompletion('small-model', 'too late') };
        return handler(body, i);
      }),
      workflowBundle(),
    ]);
  });
  after(async () => {
    await server?.close();
    await env?.teardown();
  });

  async function worker(taskQueue: string, deps: Partial<ActivityDeps> = {}, shutdownGraceTime?: number): Promise<Worker> {
    return createRouterWorker({
      connection: env.nativeConnection,
      client: env.client,
      taskQueue,
      workflows: { bundle: await workflowBundle() },
      deps: loopbackDeps(server.baseUrl, deps),
      ...(shutdownGraceTime !== undefined && { shutdownGraceTime }),
    });
  }
  const ledgerOf = (tenant: string) => env.client.workflow.getHandle<typeof budget>(budgetWorkflowId(tenant)).query(budgetLedgerQuery);
  const callsTo = (model: string, marker: string) => server.calls.filter((c) => c.model === model && c.messages.some((m) => m.content.includes(marker))).length;

  it('200 concurrent reservations against a cap that covers 50: exactly 50 accepted, 150 refused, never over the cap', { timeout: 120_000 }, async () => {
    const taskQueue = 'budget-race';
    const w = await worker(taskQueue);
    // The reserve activity as a worker runs it, called directly 200 times at once (in an activity's context: it heartbeats).
    const raw = createActivities({ ...loopbackDeps(server.baseUrl), temporal: { client: env.client, taskQueue } });
    const context = new MockActivityEnvironment();
    const activities = {
      reserveBudget: (input: Parameters<typeof raw.reserveBudget>[0]) => context.run<[typeof input], BudgetReservation, typeof raw.reserveBudget>(raw.reserveBudget, input),
      settleBudget: (input: Parameters<typeof raw.settleBudget>[0]) => context.run<[typeof input], void, typeof raw.settleBudget>(raw.settleBudget, input),
    };
    // 400 characters → 100 estimated input tokens ("small-model" is no OpenAI model); at most 100 output tokens:
    // (100 × 0.15 + 100 × 0.6) / 1M = $0.000075 each, and 50 of them are $0.00375.
    const request: RouteRequestInput = { requestId: 'race', prompt: 'x'.repeat(400), maxOutputTokens: 100 };
    const caps = { dailyUsd: 0.00375 };
    const handle = env.client.workflow.getHandle<typeof budget>(budgetWorkflowId('race'));
    const { results, elapsedMs, ledger, view, ids } = await w.runUntil(async () => {
      const started = performance.now();
      const results: BudgetReservation[] = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          activities.reserveBudget({ tenant: 'race', caps, reservationId: `race/${i}`, ttlMs: 600_000, call: { kind: 'model', modelId: 'small-model', request } }),
        ),
      );
      const elapsedMs = performance.now() - started;
      const ledger = await ledgerOf('race');
      // Settling each at $0.00005 leaves $0.0025 spent and nothing reserved; a repeated settle changes nothing.
      const ids = results.flatMap((r, i) => (r.accepted ? [`race/${i}`] : []));
      await Promise.all(ids.map((id) => activities.settleBudget({ tenant: 'race', reservationId: id, actualUsd: 0.00005 })));
      await activities.settleBudget({ tenant: 'race', reservationId: ids[0]!, actualUsd: 0.00005 });
      return { results, elapsedMs, ledger, view: await handle.query(budgetViewQuery), ids };
    });
    const accepted = results.filter((r) => r.accepted);
    const refused = results.filter((r): r is Extract<BudgetReservation, { accepted: false }> => !r.accepted);
    assert.equal(accepted.length, 50);
    assert.equal(refused.length, 150);
    for (const r of accepted) near(r.reservedUsd, 0.000075, 'each reservation');
    assert.ok(refused.every((r) => /daily budget of \$0\.003750 for \d{4}-\d\d-\d\d would be crossed: spent \$0\.000000 \+ reserved \$0\.003750 \+ this call's worst case \$0\.000075/.test(r.reason)), refused[0]?.reason);
    assert.equal(ids.length, 50);
    assert.equal(Object.keys(ledger.open).length, 50);
    assert.equal(Object.values(ledger.open).reduce((n, r) => n + r.nano, 0), 3_750_000, 'reserved $0.00375 in nano-dollars, not a fraction more');
    assert.deepEqual({ spent: view.day.spentUsd, reserved: view.day.reservedUsd, settled: view.counters.settled }, { spent: 0.0025, reserved: 0, settled: 50 });
    console.log(`# 200 concurrent reservations (update-with-start, one budget workflow): ${elapsedMs.toFixed(0)} ms, ${(elapsedMs / 200).toFixed(2)} ms each`);
  });

  it('continue-as-new keeps the ledger exactly: spend, open reservations, and which ids were settled', { timeout: 120_000 }, async () => {
    const taskQueue = 'budget-can';
    const w = await worker(taskQueue);
    const caps = { dailyUsd: 5, monthlyUsd: 50 };
    const handle = await env.client.workflow.start<typeof budget>('budget', {
      workflowId: budgetWorkflowId('can'),
      taskQueue,
      args: [{ tenant: 'can', continueAsNewAfterUpdates: 7 }],
    });
    const reserve = (i: number) => handle.executeUpdate(reserveUpdate, { args: [{ id: `can/${i}`, usd: 0.001, caps, ttlMs: 3_600_000 }], updateId: `reserve/can/${i}` });
    const settle = (i: number, actualUsd: number) => handle.executeUpdate(settleUpdate, { args: [{ id: `can/${i}`, actualUsd }], updateId: `settle/can/${i}` });
    const { before, after, view } = await w.runUntil(async () => {
      // 40 reservations of $0.001; 30 settled at $0.0004 ($0.012 spent), 10 left open ($0.01 reserved).
      for (let i = 0; i < 40; i++) await reserve(i);
      for (let i = 0; i < 30; i++) await settle(i, 0.0004);
      const beforeLedger = await handle.query(budgetLedgerQuery);
      // Repeats after several new runs: neither a settled id nor an open one is charged or reserved again.
      assert.equal((await settle(3, 0.0004)).outcome, 'repeated');
      assert.equal((await reserve(35)).repeated, true);
      return { before: beforeLedger, after: await handle.query(budgetLedgerQuery), view: await handle.query(budgetViewQuery) };
    });
    const description = await handle.describe();
    assert.notEqual(description.runId, handle.firstExecutionRunId, 'the budget continued as new');
    assert.equal(before.day.spentNano, 12_000_000);
    assert.equal(Object.values(before.open).reduce((n, r) => n + r.nano, 0), 10_000_000);
    assert.deepEqual(Object.keys(before.open).sort(), Array.from({ length: 10 }, (_, i) => `can/${30 + i}`).sort());
    assert.equal(Object.keys(before.settled).length, 30);
    assert.deepEqual(before.counters, { reserved: 40, settled: 30, expired: 0, lateSettles: 0, unknownSettles: 0 });
    assert.deepEqual(after, before, 'the repeats changed nothing');
    assert.ok(view.continuedAsNew >= 10, `72 updates at 7 a run: ${view.continuedAsNew} runs before this`);
  });

  it('a request whose first call the budget cannot cover fails with InsufficientQuota before any model call', { timeout: 60_000 }, async () => {
    const taskQueue = 'budget-refused';
    const w = await worker(taskQueue);
    const router = new RoutingToEndClient({ client: env.client, taskQueue });
    // small-model's worst case: 100 estimated input tokens and 1000 output: (100 × 0.15 + 1000 × 0.6) / 1M = $0.000615.
    const request: RouteRequestInput = { requestId: 'too-poor', tenant: 'poor', taskType: 'classification', prompt: `${'y'.repeat(390)}[poor]....`, maxOutputTokens: 1000, tenantBudget: { dailyUsd: 0.0006 } };
    const { err, view } = await w.runUntil(async () => ({ err: await router.route(request).then(() => undefined, (e: unknown) => e), view: await router.getBudget('poor') }));
    assert.ok(err instanceof RouteFailedError, String(err));
    assert.equal(err.type, 'InsufficientQuota');
    assert.match(err.message, /budget refused small-model for request too-poor before any model call: daily budget of \$0\.000600 .* worst case \$0\.000615/);
    assert.equal(callsTo('small-model', '[poor]') + callsTo('judge-model', '[poor]'), 0, 'no model was called');
    // A refused reservation leaves no trace in the ledger, not even its caps (only an accepted one records them).
    assert.deepEqual([view.day.spentUsd, view.day.reservedUsd, view.day.capUsd, view.reservations.length], [0, 0, null, 0]);
  });

  it('an escalation the budget refuses stops the ladder: the first answer is kept and the log says why', { timeout: 60_000 }, async () => {
    const taskQueue = 'budget-escalation';
    const w = await worker(taskQueue);
    const router = new RoutingToEndClient({ client: env.client, taskQueue });
    // small's worst case $0.000615 fits a $0.001 cap; after it and its judge settle ($0.000045 + $0.0000017), the
    // medium model's (100 × 0.4 + 1000 × 1.6) / 1M = $0.00164 does not.
    const prompt = `${HARD_MARKER} ${'z'.repeat(388)}[esc]`;
    assert.equal(prompt.length, 400);
    const { log, view } = await w.runUntil(async () => {
      const log = await router.route({ requestId: 'stopped', tenant: 'thrifty', taskType: 'classification', prompt, maxOutputTokens: 1000, tenantBudget: { dailyUsd: 0.001 } });
      return { log, view: await router.getBudget('thrifty') };
    });
    assert.equal(log.finalModel, 'small-model');
    assert.equal(log.attempts.length, 1);
    assert.equal(log.attempts[0]!.verdict?.passed, false);
    assert.equal(log.budgetStop?.kind, 'model');
    assert.equal(log.budgetStop?.model, 'medium-model');
    assert.match(log.budgetStop!.reason, /daily budget of \$0\.001000 .* spent \$0\.000047 \+ reserved \$0\.000000 \+ this call's worst case \$0\.001640/);
    assert.equal(callsTo('medium-model', '[esc]'), 0, 'the medium model was never called');
    const smallCall = server.calls.find((c) => c.model === 'small-model' && c.messages.some((m) => m.content.includes('[esc]')));
    assert.equal(smallCall?.body.max_tokens, 1000, 'the output cap the reservation priced is the one the provider got');
    near(view.day.spentUsd, SMALL_ANSWER_USD + FAILING_JUDGEMENT_USD, 'spent');
    near(view.day.spentUsd, log.costUsd, 'spend is the decision log\'s cost');
    assert.equal(view.reservations.length, 0);
    assert.deepEqual(view.counters, { reserved: 2, settled: 2, expired: 0, lateSettles: 0, unknownSettles: 0 });
  });

  it('a worker shut down between reserve and settle: the next worker settles the reservation exactly once', { timeout: 120_000 }, async () => {
    const taskQueue = 'budget-shutdown';
    const router = new RoutingToEndClient({ client: env.client, taskQueue });
    const prompt = 'Classify the intent: "my card was charged twice" [hang]';
    const a = await worker(taskQueue, {}, 200);
    const runA = a.run();
    const handle = await router.startRoute({ requestId: 'crash', tenant: 'crashy', taskType: 'classification', prompt, tenantBudget: { dailyUsd: 1 } });
    await waitFor('worker A to call the routed model', () => callsTo('small-model', '[hang]') === 1);
    // The default cap, 4096 output tokens, was sent and reserved, with ⌈55 characters / 4⌉ = 14 input tokens.
    const worstUsd = (14 * 0.15 + 4096 * 0.6) / 1e6;
    assert.equal(server.calls.find((c) => c.model === 'small-model' && c.messages.some((m) => m.content.includes('[hang]')))?.body.max_tokens, 4096);
    const during = await router.getBudget('crashy');
    assert.equal(during.reservations.length, 1);
    near(during.reservations[0]!.usd, worstUsd, 'the open reservation');
    assert.equal(during.reservations[0]!.estimated, true);
    a.shutdown();
    await runA;

    const b = await worker(taskQueue);
    const { log, view } = await b.runUntil(async () => {
      const log = await handle.result();
      return { log, view: await router.getBudget('crashy') };
    });
    assert.equal(callsTo('small-model', '[hang]'), 2, 'the cut-off call was made again');
    assert.equal(view.reservations.length, 0);
    assert.deepEqual(view.counters, { reserved: 2, settled: 2, expired: 0, lateSettles: 0, unknownSettles: 0 }, 'the call and its judge, each settled once');
    // The answer and the judge, plus the cut-off attempt, which may have been billed: priced at its worst case, once.
    assert.equal(log.possiblyBilledCalls, 1);
    near(log.possiblyBilledUsd, worstUsd, 'possibly billed');
    near(view.day.spentUsd, SMALL_ANSWER_USD + PASSING_JUDGEMENT_USD + worstUsd, 'spent');
    near(view.day.spentUsd, log.costUsd + log.possiblyBilledUsd, 'spent is the log\'s cost and possibly-billed, once');
  });

  it('measures what reserving and settling adds to a routed request (printed, not asserted)', { timeout: 120_000 }, async () => {
    const taskQueue = 'budget-overhead';
    const w = await worker(taskQueue);
    // What a caller waits for: the early answer (settles run after it, beside the decision-log row).
    const router = new RouterClient({ client: env.client, taskQueue });
    const timings = await w.runUntil(async () => {
      const ms = { plain: [] as number[], budgeted: [] as number[] };
      // Alternating, after one warm-up of each, so both see the same server and caches.
      for (let i = -1; i < 15; i++) {
        for (const kind of ['plain', 'budgeted'] as const) {
          const started = performance.now();
          await router.route({ requestId: `overhead-${kind}-${i}`, tenant: 'measured', taskType: 'classification', prompt: `Classify: "where is my parcel" ${i}`, ...(kind === 'budgeted' && { tenantBudget: { dailyUsd: 100 } }) });
          if (i >= 0) ms[kind].push(performance.now() - started);
        }
      }
      const view = await env.client.workflow.getHandle<typeof budget>(budgetWorkflowId('measured')).query(budgetViewQuery);
      return { ...ms, view };
    });
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const extra = median(timings.budgeted) - median(timings.plain);
    // Each request makes two paid calls (the model and its judge): two reservations and two settles.
    console.log(`# reserve+settle: request p50 ${median(timings.plain).toFixed(1)} ms plain, ${median(timings.budgeted).toFixed(1)} ms budgeted: +${extra.toFixed(1)} ms, ${(extra / 2).toFixed(1)} ms per call`);
    const { view } = timings;
    assert.equal(view.counters.reserved, 32, 'two reservations for each of the 16 budgeted requests');
  });

  it('refuses bad reservations in the validator, naming the field, with nothing reserved', { timeout: 60_000 }, async () => {
    const taskQueue = 'budget-bad';
    const w = await worker(taskQueue);
    const handle = await env.client.workflow.start<typeof budget>('budget', { workflowId: budgetWorkflowId('bad'), taskQueue, args: [{ tenant: 'bad' }] });
    const { err, ledger } = await w.runUntil(async () => ({
      err: await handle.executeUpdate(reserveUpdate, { args: [{ id: 'b/1', usd: -1, caps: {}, ttlMs: 1000 }] }).catch((e: unknown) => e),
      ledger: await handle.query(budgetLedgerQuery),
    }));
    assert.ok(err instanceof WorkflowUpdateFailedError);
    assert.match(String((err.cause as Error).message), /^usd: must be a finite number ≥ 0, got -1/);
    const history = await handle.fetchHistory();
    assert.equal((history.events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length, 0, 'a refused update never enters history as accepted');
    assert.deepEqual(Object.keys(ledger.open), []);
  });
});
