/*
 * Records the workflow histories that test/replay-history.test.ts replays against the current workflow code, so a
 * change to routeRequest that would break runs already in flight fails a test instead of a production worker.
 * Run it (and commit the files) when the workflow changes on purpose, behind patched() where runs may be in flight:
 *
 *   npx tsx scripts/record-history.ts [FILE...]
 *
 * Named files only are (re)written, so the histories of older workflow shapes can stay as they were recorded.
 * It starts a Temporal dev server and a loopback OpenAI-compatible server, routes one request that escalates
 * (the judge fails the small model), one that does not, one that races a speculative partner (cancelled when the
 * routed answer passes), one with a tenant budget (reserving and settling on budget-default), and one on a bandit
 * policy (which sends its outcome to bandit-<policyId>), then writes their histories, that banditState's (after an
 * admin change) and the budget's to test/histories/.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RouteRequestSchema } from '../src/domain/request';
import { assignFolds } from '../src/routing/folds';
import { escalationLadder } from '../src/routing/ladder';
import { classifierStrategy } from '../src/routing/strategies/classifier';
import type { RoutingPolicy } from '../src/routing/strategies/registry';
import { routeWorkflowId } from '../src/client';
import type { RouteRequestInput } from '../src/domain/request';
import { createRouterWorker } from '../src/worker/createWorker';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { banditWorkflowId, budgetWorkflowId } from '../src/domain/workflowIds';
import { banditPolicy, withBanditPolicies } from '../test/helpers/bandit';
import { HARD_MARKER, judgedModels, loopbackDeps } from '../test/helpers/loopbackRouter';
import { defaultPolicies, testCatalog } from '../test/helpers/catalog';
import { startOpenAIServer, type ScriptHandler } from '../test/helpers/openaiServer';
import { RoutingToEndClient } from '../test/helpers/routerClient';
import { devServerEnv, workflowBundle } from '../test/helpers/temporal';

const HISTORIES_DIR = resolve(__dirname, '..', 'test', 'histories');
const TASK_QUEUE = 'record-history';

/** In a prompt, the large model takes its time, so the speculative race has a loser to cancel. */
const SLOW_PARTNER = '[slow-partner]';

const RECORDINGS: { file: string; request: RouteRequestInput }[] = [
  {
    file: 'route-request-escalated.json',
    request: { requestId: 'history-escalated', prompt: `${HARD_MARKER} Classify the intent: "I was charged twice for one order"`, taskType: 'classification' },
  },
  {
    file: 'route-request-simple.json',
    request: { requestId: 'history-simple', prompt: 'Classify the intent: "where is my parcel?"', taskType: 'classification' },
  },
  {
    // The slim shape with early return (update-with-start): local quick steps, one search-attribute upsert.
    file: 'route-request-early-return.json',
    request: { requestId: 'history-early-return', prompt: `${HARD_MARKER} Classify the intent: "the parcel never came"`, taskType: 'classification' },
  },
  {
    // A race: the routed model passes while the speculative partner is still answering, so the partner is cancelled.
    file: 'route-request-speculative.json',
    request: { requestId: 'history-speculative', prompt: `${SLOW_PARTNER} Classify the intent: "charged twice"`, taskType: 'classification', policyId: 'history-speculative' },
  },
  {
    // The cascade: the judge fails the small model, and the cascade skips the medium one (which, in the training
    // outcomes, fails wherever the small one does) for the large one.
    file: 'route-request-cascade.json',
    request: { requestId: 'history-cascade', prompt: `${HARD_MARKER} Classify the intent: "refund my order"`, taskType: 'classification', policyId: 'history-cascade' },
  },
  {
    // A tenant budget: every model and judge call reserved first (an update on budget-default), settled after (a
    // signal); the judge fails the small model, so the escalation reserves again.
    file: 'route-request-budgeted.json',
    request: { requestId: 'history-budgeted', prompt: `${HARD_MARKER} Classify the intent: "charged for a parcel I never sent"`, taskType: 'classification', tenantBudget: { dailyUsd: 10 } },
  },
  {
    file: 'route-request-bandit.json',
    request: { requestId: 'history-bandit', prompt: 'Classify the intent: "my parcel is late"', taskType: 'classification', policyId: 'history-bandit' },
  },
];
const BANDIT_HISTORY = 'bandit-state.json';
const BUDGET_HISTORY = 'budget.json';
const speculativePolicy = defaultPolicies({ id: 'history-speculative', speculative: { whenConfidenceBelow: 0.9, partner: 'best', prefer: 'cost' } }).get('history-speculative')!;

/**
 * A classifier policy escalating by the cascade, with an artefact trained on made-up outcomes for the test catalog:
 * the small model passes 80 % of requests, the medium one only where the small one does, the large one 95 %.
 */
function cascadePolicy(): RoutingPolicy {
  const ladder = escalationLadder(testCatalog('openai').models);
  const examples = Array.from({ length: 200 }, (_, i) => ({
    request: RouteRequestSchema.parse({ requestId: `cascade-${i}`, prompt: `Classify the intent of message ${i}`, taskType: 'classification' }),
    passes: { 'small-model': i % 5 !== 0, 'medium-model': i % 5 !== 0, 'large-model': i % 20 !== 0 },
  }));
  const folds = assignFolds(examples.map((e) => e.request.requestId), 5, 1);
  const fitted = classifierStrategy.fit!(examples, folds, ladder, { createdAt: '2026-12-02T00:00:00.000Z', passThreshold: 0.9, judgeCostRatio: 0.1, trainingData: [], seed: 1 });
  const artefactPath = join(mkdtempSync(join(tmpdir(), 'history-cascade-')), 'classifier.json');
  writeFileSync(artefactPath, JSON.stringify(fitted.artefact));
  // λ = 0.5: a pass is worth twice the large model's call, so after the small model fails the large one is worth it.
  return { id: 'history-cascade', version: '1', strategy: 'classifier', classifier: { artefactPath, lambda: 0.5 }, gate: { threshold: 0.9 }, maxEscalations: 2, escalation: 'cascade', storePrompts: 'hashed', quickSteps: 'local' };
}

/** The loopback models, with the large one slow on the race's prompt. */
function models(): ScriptHandler {
  const judged = judgedModels();
  return (body, n) => {
    const answer = judged(body, n);
    return body.model === 'large-model' && body.messages.some((m) => m.content.includes(SLOW_PARTNER)) ? { ...answer, delayMs: 30_000 } : answer;
  };
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const unknown = only.filter((f) => f !== BANDIT_HISTORY && f !== BUDGET_HISTORY && !RECORDINGS.some((r) => r.file === f));
  if (unknown.length > 0) throw new Error(`no such recording: ${unknown.join(', ')} (known: ${[...RECORDINGS.map((r) => r.file), BANDIT_HISTORY, BUDGET_HISTORY].join(', ')})`);
  const wanted = (file: string) => only.length === 0 || only.includes(file);
  const [env, server] = await Promise.all([devServerEnv(), startOpenAIServer(models())]);
  try {
    const worker = await createRouterWorker({
      connection: env.nativeConnection,
      taskQueue: TASK_QUEUE,
      workflows: { bundle: await workflowBundle() },
      client: env.client,
      deps: loopbackDeps(server.baseUrl, withBanditPolicies(banditPolicy('history-bandit'), speculativePolicy, cascadePolicy())),
    });
    const router = new RoutingToEndClient({ client: env.client, taskQueue: TASK_QUEUE });
    const logs = await worker.runUntil(async () => {
      const routed = [];
      for (const { request } of RECORDINGS) routed.push(await router.route(request));
      await router.changeBandit('history-bandit', { kind: 'settings', settings: { explorationRate: 0.1 } });
      return routed;
    });

    mkdirSync(HISTORIES_DIR, { recursive: true });
    for (const [i, { file, request }] of RECORDINGS.entries()) {
      if (!wanted(file)) continue;
      const history = await env.client.workflow.getHandle(routeWorkflowId('default', request.requestId)).fetchHistory();
      const json = historyToJSON(history);
      const path = join(HISTORIES_DIR, file);
      writeFileSync(path, `${json}\n`);
      const log = logs[i]!;
      console.log(`${path}: ${history.events?.length ?? 0} events, ${log.attempts.map((a) => a.model).join(' -> ')}`);
    }
    if (wanted(BANDIT_HISTORY)) {
      const bandit = await env.client.workflow.getHandle(banditWorkflowId('history-bandit')).fetchHistory();
      writeFileSync(join(HISTORIES_DIR, BANDIT_HISTORY), `${historyToJSON(bandit)}\n`);
      console.log(`${join(HISTORIES_DIR, BANDIT_HISTORY)}: ${bandit.events?.length ?? 0} events`);
    }
    if (wanted(BUDGET_HISTORY)) {
      const ledger = await env.client.workflow.getHandle(budgetWorkflowId('default')).fetchHistory();
      writeFileSync(join(HISTORIES_DIR, BUDGET_HISTORY), `${historyToJSON(ledger)}\n`);
      console.log(`${join(HISTORIES_DIR, BUDGET_HISTORY)}: ${ledger.events?.length ?? 0} events`);
    }
  } finally {
    await server.close();
    await env.teardown();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
