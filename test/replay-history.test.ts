import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { historyFromJSON, type History } from '@temporalio/common/lib/proto-utils';
import { workflowBundle } from './helpers/temporal';

/** Recorded by scripts/record-history.ts from real runs on the dev server; re-record only on purpose. */
const HISTORY_FILES = [
  'route-request-escalated.json',
  'route-request-simple.json',
  'route-request-bandit.json',
  'bandit-state.json',
  'route-request-early-return.json',
  'route-request-speculative.json',
  'route-request-cascade.json',
  'route-request-budgeted.json',
  'budget.json',
];

interface RecordedHistory {
  workflowId: string;
  history: History;
}

function loadHistories(): RecordedHistory[] {
  return HISTORY_FILES.map((file) => ({
    workflowId: file.replace(/\.json$/, ''),
    history: historyFromJSON(JSON.parse(readFileSync(join(__dirname, 'histories', file), 'utf8'))),
  }));
}

async function replayAll(workflowBundle: WorkflowBundleWithSourceMap, histories: RecordedHistory[]) {
  const results = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle }, histories)) results.push(result);
  return results;
}

function activitiesScheduled(history: History): string[] {
  return (history.events ?? []).flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
}

describe('replaying committed routeRequest histories', () => {
  let histories: RecordedHistory[];
  let routerWorkflows: WorkflowBundleWithSourceMap;
  let reorderedWorkflows: WorkflowBundleWithSourceMap;

  before(async () => {
    // Replay workers log every state change, and Core warns of the violation the last test provokes on purpose.
    Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR' } } } });
    histories = loadHistories();
    [routerWorkflows, reorderedWorkflows] = await Promise.all([
      workflowBundle(),
      bundleWorkflowCode({ workflowsPath: require.resolve('./helpers/reorderedWorkflow'), logger: new DefaultLogger('ERROR') }),
    ]);
  });

  it('holds an escalated, a plain and a bandit run (recorded before the bandit existed, but the last), a bandit state, an early-return run, a race, a cascade, a budgeted run and its budget', () => {
    const [escalated, simple, bandit, state, early, speculative, cascade, budgeted, ledger] = histories.map((h) => h.history);
    assert.deepEqual(activitiesScheduled(escalated!), ['planRoute', 'callModel', 'evaluateAnswer', 'callModel', 'evaluateAnswer', 'recordDecision']);
    assert.deepEqual(activitiesScheduled(simple!), ['planRoute', 'callModel', 'evaluateAnswer', 'recordDecision']);
    assert.deepEqual(activitiesScheduled(bandit!), ['planRoute', 'callModel', 'evaluateAnswer', 'recordDecision', 'reportBanditOutcome']);
    const kinds = (history: History) => (history.events ?? []).map((e) => Object.keys(e).find((k) => k.endsWith('EventAttributes')));
    assert.ok(kinds(state!).includes('workflowExecutionSignaledEventAttributes') && kinds(state!).includes('workflowExecutionUpdateAcceptedEventAttributes'), kinds(state!).join(', '));
    // The slim shape: planning and the row are local activities, the answer left early through the update.
    assert.deepEqual(activitiesScheduled(early!), ['callModel', 'evaluateAnswer', 'callModel', 'evaluateAnswer']);
    const earlyKinds = kinds(early!);
    assert.ok(earlyKinds.indexOf('workflowExecutionUpdateCompletedEventAttributes') < earlyKinds.lastIndexOf('markerRecordedEventAttributes'), 'the answer left before the row was written');
    assert.equal(earlyKinds.filter((k) => k === 'upsertWorkflowSearchAttributesEventAttributes').length, 2, 'the patch marker\'s and the final one');
    // A race: both calls scheduled at once, the routed answer gated, then the partner cancelled with its cost report.
    assert.deepEqual(activitiesScheduled(speculative!), ['callModel', 'callModel', 'evaluateAnswer']);
    const raceKinds = kinds(speculative!);
    assert.ok(raceKinds.indexOf('activityTaskCancelRequestedEventAttributes') > raceKinds.lastIndexOf('activityTaskScheduledEventAttributes'));
    const canceled = speculative!.events!.find((e) => e.activityTaskCanceledEventAttributes)?.activityTaskCanceledEventAttributes;
    assert.match(Buffer.from(canceled!.details!.payloads![0]!.data!).toString('utf8'), /"cancelledCall":\{"inputTokens":\d+/);
    // The cascade: the small model failed and the next call went to the large one, past the medium tier.
    const summaries = (cascade!.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes?.activityType?.name === 'callModel' ? [Buffer.from(e.userMetadata!.summary!.data!).toString('utf8')] : []));
    assert.equal(summaries.length, 2);
    assert.match(summaries[1]!, /escalation: large-model — cascade: large-model p\(pass \| small-model failed\)/);
    // A budgeted run: each model call and each paid judge call between a reservation and its settle.
    const call = ['reserveBudget', 'callModel', 'settleBudget', 'reserveBudget', 'evaluateAnswer', 'settleBudget'];
    assert.deepEqual(activitiesScheduled(budgeted!), [...call, ...call]);
    // Its budget: the reservations as updates, the settles as signals.
    const ledgerKinds = kinds(ledger!);
    assert.equal(ledgerKinds.filter((k) => k === 'workflowExecutionUpdateCompletedEventAttributes').length, 4);
    assert.equal(ledgerKinds.filter((k) => k === 'workflowExecutionSignaledEventAttributes').length, 4);
  });

  it('replays every history on the current workflow code without a determinism violation', async () => {
    const results = await replayAll(routerWorkflows, histories);
    assert.deepEqual(
      results.map((r) => [r.workflowId, r.error?.message]),
      histories.map((h) => [h.workflowId, undefined]),
    );
  });

  it('reports a determinism violation for workflow code that calls the activities in another order', async () => {
    // The histories whose planning step is a regular activity (the early-return one plans locally).
    const routes = histories.filter((h) => h.workflowId.startsWith('route-request') && activitiesScheduled(h.history)[0] === 'planRoute');
    const results = await replayAll(reorderedWorkflows, routes);
    assert.equal(results.length, routes.length);
    for (const result of results) {
      assert.ok(result.error instanceof DeterminismViolationError, `${result.workflowId}: expected a DeterminismViolationError, got ${String(result.error)}`);
      assert.match(result.error.message, /scheduled event 'planRoute' does not match activity type of activity command 'callModel'/);
    }
  });
});
