import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Page } from 'playwright-core';
import type { RouteRequestInput } from '../src/domain/request';
import type { DecisionLog } from '../src/domain/results';
import { freePort, startLocalServer, type LocalServer } from '../src/servers/localServer';
import { createRouterWorker } from '../src/worker/createWorker';
import { installQuietRuntime } from '../src/worker/runtime';
import { ROUTER_SEARCH_ATTRIBUTES } from '../src/workflows/searchAttributes';
import { launchBrowser, type TestBrowser } from './helpers/browser';
import { defaultPolicies } from './helpers/catalog';
import { HARD_MARKER, judgedModels, loopbackDeps } from './helpers/loopbackRouter';
import { startOpenAIServer, type OpenAIServer } from './helpers/openaiServer';
import { RoutingToEndClient } from './helpers/routerClient';
import { workflowBundle } from './helpers/temporal';
import { listWorkflows, newUiPage, openListedWorkflow, readEventHistory, readSearchAttributes, saveScreenshot } from './helpers/webUi';

const TASK_QUEUE = 'web-ui';
const ESCALATED = `TaskQueue = '${TASK_QUEUE}' AND Escalated = true`;
// The judge fails the small model on HARD_MARKER prompts: those two escalate to medium-model, the others do not.
const REQUESTS: RouteRequestInput[] = [
  { requestId: 'ui-hard-refund', prompt: `${HARD_MARKER} Classify the intent: "refund me, it never came"`, taskType: 'classification' },
  { requestId: 'ui-parcel', prompt: 'Classify the intent: "where is my parcel?"', taskType: 'classification' },
  { requestId: 'ui-hard-tone', prompt: `${HARD_MARKER} Classify the sentiment: "fine, I guess"`, taskType: 'classification' },
  // Confidence 0.85 is below the race policy's bar: the routed model races large-model, and the run is Speculative.
  { requestId: 'ui-race', prompt: 'Classify the intent: "charged twice"', taskType: 'classification', policyId: 'race' },
];

/** Visibility on the dev server lags a finished run by a moment; the UI lists what visibility has. */
async function countWhen(server: LocalServer, query: string, expected: number): Promise<number> {
  for (const deadline = Date.now() + 10_000; ; ) {
    const { count } = await server.client.workflow.count(query);
    if (count === expected || Date.now() > deadline) return count;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('the Temporal Web UI of a dev server, in headless Chromium', () => {
  let openai: OpenAIServer;
  let server: LocalServer;
  let browser: TestBrowser;
  let logs: DecisionLog[];

  before(async () => {
    installQuietRuntime();
    // Each resource is kept as soon as it is up, so after() stops it even when another one failed to start.
    const started = await Promise.allSettled([
      startOpenAIServer(judgedModels()).then((s) => (openai = s)),
      freePort().then((uiPort) => startLocalServer({ uiPort }).then((s) => (server = s))),
      launchBrowser().then((b) => (browser = b)),
      workflowBundle(),
    ]);
    for (const result of started) if (result.status === 'rejected') throw result.reason;
    const policies = new Map([...defaultPolicies(), ...defaultPolicies({ id: 'race', speculative: { whenConfidenceBelow: 0.9, partner: 'best', prefer: 'cost' } })]);
    const worker = await createRouterWorker({
      connection: server.nativeConnection,
      client: server.client,
      taskQueue: TASK_QUEUE,
      workflows: { bundle: await workflowBundle() },
      deps: loopbackDeps(openai.baseUrl, { policies }),
    });
    const router = new RoutingToEndClient({ client: server.client, taskQueue: TASK_QUEUE });
    logs = await worker.runUntil(Promise.all(REQUESTS.map((r) => router.route(r))));
  }, { timeout: 120_000 }); // a run whose attribute is unregistered never ends: its workflow task fails again and again
  after(async () => {
    await browser?.close();
    await Promise.all([server?.teardown(), openai?.close()]);
  });

  /** A fresh page for `work`; a failure leaves a screenshot of where it stood. */
  async function onPage(t: TestContext, name: string, work: (page: Page) => Promise<void>): Promise<void> {
    const page = await newUiPage(browser.context);
    try {
      await work(page);
    } catch (err) {
      t.diagnostic(`screenshot: ${await saveScreenshot(page, `${name}-failure`)}`);
      throw err;
    } finally {
      await page.close();
    }
  }

  it('the search attributes the runs set are exactly the ones the server has registered', async () => {
    const { customAttributes } = await server.client.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    const registered = Object.keys(customAttributes ?? {}).sort();
    assert.deepEqual(registered, ROUTER_SEARCH_ATTRIBUTES.map((k) => k.name).sort());
    const set = new Set<string>();
    for (const log of logs) {
      for (const event of (await server.client.workflow.getHandle(log.workflowId).fetchHistory()).events ?? []) {
        const fields = event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? event.workflowExecutionStartedEventAttributes?.searchAttributes?.indexedFields;
        for (const key of Object.keys(fields ?? {})) if (!key.startsWith('Temporal')) set.add(key);
      }
    }
    assert.deepEqual([...set].sort(), registered, 'the escalated, plain and racing runs between them set every registered attribute, and no other');
  });

  it('lists exactly the escalated runs for the query Escalated = true', { timeout: 60_000 }, async (t) => {
    const escalated = logs.filter((l) => l.wasEscalated).map((l) => l.workflowId).sort();
    assert.deepEqual(escalated, ['route-default-ui-hard-refund', 'route-default-ui-hard-tone']);
    assert.equal(await countWhen(server, ESCALATED, escalated.length), escalated.length, 'visibility has indexed them');
    await onPage(t, 'web-ui-escalated-list', async (page) => {
      const listed = await listWorkflows(page, server.uiUrl!, ESCALATED, escalated.length);
      t.diagnostic(`screenshot: ${await saveScreenshot(page, 'web-ui-escalated-list')}`);
      assert.deepEqual(listed.sort(), escalated);
    });
  });

  it('an escalated run shows its search attributes and the route, execute and evaluate steps with their summaries', { timeout: 90_000 }, async (t) => {
    const log = logs.find((l) => l.requestId === 'ui-hard-refund')!;
    assert.equal(await countWhen(server, ESCALATED, 2), 2);
    await onPage(t, 'web-ui-escalated-run', async (page) => {
      await listWorkflows(page, server.uiUrl!, ESCALATED, 2);
      await openListedWorkflow(page, log.workflowId);

      const attributes = await readSearchAttributes(page);
      t.diagnostic(`screenshot: ${await saveScreenshot(page, 'web-ui-search-attributes')}`);
      assert.deepEqual(
        Object.fromEntries(ROUTER_SEARCH_ATTRIBUTES.map((k) => [k.name, attributes[k.name]])),
        // The run did not race, so it has no Speculative.
        { RoutedModel: 'small-model', FinalModel: 'medium-model', RoutingStrategy: 'rules', Escalated: true, QualityScore: 1, CostUsd: log.costUsd, Speculative: undefined, Tenant: 'default' },
      );

      const history = await readEventHistory(page);
      t.diagnostic(`screenshot: ${await saveScreenshot(page, 'web-ui-event-history')}`);
      assert.equal(history[0]?.details.Summary, 'route classification request ui-hard-refund (general, policy default)', 'the run\'s static summary');
      const steps = history.filter((row) => row.details['Activity Type']).map((row) => [row.eventType, row.details['Activity Type'], row.details.Summary]);
      assert.deepEqual(steps, [
        ['Local Activity', 'planRoute', 'route: request features + routing policy'],
        ['Activity Task Scheduled', 'callModel', `routed: small-model — ${log.decision.reason}`.slice(0, 200)],
        ['Activity Task Scheduled', 'evaluateAnswer', 'quality gate for small-model (threshold 0.95)'],
        ['Activity Task Scheduled', 'callModel', 'escalation: medium-model — small-model scored 0.3 below 0.95'],
        ['Activity Task Scheduled', 'evaluateAnswer', 'quality gate for medium-model (threshold 0.95)'],
        ['Local Activity', 'recordDecision', 'record: write the decision log row'],
      ]);
    });
  });
});
