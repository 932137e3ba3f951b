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
 * routed answer passes), and one on a bandit policy (which sends its outcome to bandit-<policyId>), then writes
 * their histories and that banditState's (after an admin change) to test/histories/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { routeWorkflowId } from '../src/client';
import type { RouteRequestInput } from '../src/domain/request';
import { createRouterWorker } from '../src/worker/createWorker';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { banditWorkflowId } from '../src/domain/workflowIds';
import { banditPolicy, withBanditPolicies } from '../test/helpers/bandit';
import { HARD_MARKER, judgedModels, loopbackDeps } from '../test/helpers/loopbackRouter';
import { defaultPolicies } from '../test/helpers/catalog';
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
    file: 'route-request-bandit.json',
    request: { requestId: 'history-bandit', prompt: 'Classify the intent: "my parcel is late"', taskType: 'classification', policyId: 'history-bandit' },
  },
];
const BANDIT_HISTORY = 'bandit-state.json';
const speculativePolicy = defaultPolicies({ id: 'history-speculative', speculative: { whenConfidenceBelow: 0.9, partner: 'best', prefer: 'cost' } }).get('history-speculative')!;

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
  const unknown = only.filter((f) => f !== BANDIT_HISTORY && !RECORDINGS.some((r) => r.file === f));
  if (unknown.length > 0) throw new Error(`no such recording: ${unknown.join(', ')} (known: ${[...RECORDINGS.map((r) => r.file), BANDIT_HISTORY].join(', ')})`);
  const wanted = (file: string) => only.length === 0 || only.includes(file);
  const [env, server] = await Promise.all([devServerEnv(), startOpenAIServer(models())]);
  try {
    const worker = await createRouterWorker({
      connection: env.nativeConnection,
      taskQueue: TASK_QUEUE,
      workflows: { bundle: await workflowBundle() },
      client: env.client,
      deps: loopbackDeps(server.baseUrl, withBanditPolicies(banditPolicy('history-bandit'), speculativePolicy)),
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
      const history = await env.client.workflow.getHandle(routeWorkflowId(request.requestId)).fetchHistory();
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
  } finally {
    await server.close();
    await env.teardown();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
