import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/cli';
import { after, before, describe, it } from 'node:test';
import type { Worker } from '@temporalio/worker';
import { RouteFailedError } from '../src/client';
import { DecisionLogStore } from '../src/analytics/decisionLogStore';
import { TASK_QUEUE } from '../src/domain/taskQueue';
import type { RouteRequestInput } from '../src/domain/request';
import type { DecisionLog } from '../src/domain/results';
import { startLocalServer, type LocalServer } from '../src/servers/localServer';
import { workflowCode } from '../src/worker/bundle';
import { loadRouterConfig } from '../src/worker/config';
import { createRouterWorker } from '../src/worker/createWorker';
import { installQuietRuntime } from '../src/worker/runtime';
import { openSession, type RouterSession } from '../src/worker/session';
import { wireActivityDeps, type Wiring } from '../src/worker/wiring';

/**
 * A "production" deployment: a real dev server with a router worker on the shared task queue, writing its own
 * decision log. A session opened with its address is a client of that deployment, never a second worker on it.
 */

// openSession installs the CLI's runtime; it must come before anything instantiates the SDK's default one.
installQuietRuntime();

const dir = mkdtempSync(join(tmpdir(), 'session-test-'));
const productionLog = join(dir, 'production-decision-log.db');
const localLog = join(dir, 'local-decision-log.db');
let server: LocalServer;
let production: Wiring;
let productionWorker: Worker;
let productionRunning: Promise<void>;

const request = (requestId: string) => ({ requestId, prompt: 'Is this about billing or delivery? "charged twice for QS-1182"', taskType: 'classification' }) as const;

before(async () => {
  server = await startLocalServer();
  production = await wireActivityDeps(loadRouterConfig({}), { MODEL_ROUTER_DECISION_LOG: productionLog });
  productionWorker = await createRouterWorker({ connection: server.nativeConnection, client: server.client, taskQueue: TASK_QUEUE, deps: production.deps, workflows: workflowCode() });
  productionRunning = productionWorker.run();
});

after(async () => {
  productionWorker.shutdown();
  await productionRunning;
  await server.teardown();
  await production.store.close();
  rmSync(dir, { recursive: true, force: true });
});



async function workflowPollers(taskQueue: string): Promise<number> {
  const { pollers } = await server.client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: taskQueue }, taskQueueType: 1 });
  return pollers?.length ?? 0;
}

/** The answer returns early: a session that owns its worker keeps it running until the run has written its row. */
async function routeToEnd(session: RouterSession, input: RouteRequestInput): Promise<DecisionLog> {
  const log = await session.router.route(input);
  await session.client.workflow.getHandle(log.workflowId).result();
  return log;
}

describe('openSession', () => {
  it('with an address is a client: the deployed worker executes the request, this process opens no decision log', async () => {
    const session = await openSession({ address: server.address, env: { MODEL_ROUTER_DECISION_LOG: localLog } });
    try {
      assert.equal('worker' in session, false);
      const log = await session.router.route(request('session-remote-1'));
      // Only the production worker polls the shared queue while the session is open.
      assert.equal(await workflowPollers(TASK_QUEUE), 1);
      assert.equal(log.requestId, 'session-remote-1');
      // The answer came back early; the deployed worker writes the row as the run ends.
      await session.client.workflow.getHandle(log.workflowId).result();
      assert.equal((await production.store.get('session-remote-1'))?.workflowId, 'route-default-session-remote-1');
      assert.equal(existsSync(localLog), false, 'the local decision log was never opened');
    } finally {
      await session.close();
    }
  });

  it('with an address surfaces the deployed worker\'s refusal of an unknown policy as a RouteFailedError', async () => {
    const session = await openSession({ address: server.address });
    try {
      const err = await session.router.route({ ...request('session-unknown-policy'), policyId: 'no-such-policy' }).then(
        () => assert.fail('the request was routed'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof RouteFailedError, `expected a RouteFailedError, got ${String(err)}`);
      assert.equal(err.type, 'UnknownPolicy');
      assert.equal(err.message, 'policyId "no-such-policy" is not configured (known: default, bandit)');
    } finally {
      await session.close();
    }
  });

  it('route --address: the deployed worker routes it; an unknown policy and a reused requestId are one-line errors', async () => {
    const env = { MODEL_ROUTER_DECISION_LOG: localLog };
    const ok = await runCli(['route', '--address', server.address, '--prompt', 'Summarise: the parcel came late.', '--request-id', 'cli-remote-1', '--json'], { env });
    assert.equal(ok.code, 0, ok.stderr);
    await server.client.workflow.getHandle('route-default-cli-remote-1').result();
    assert.equal((await production.store.get('cli-remote-1'))?.requestId, 'cli-remote-1');
    assert.equal(existsSync(localLog), false, 'the CLI opened no local decision log');

    const conflict = await runCli(['route', '--address', server.address, '--prompt', 'Summarise: the parcel came early.', '--request-id', 'cli-remote-1'], { env });
    assert.equal(conflict.code, 1);
    assert.equal(conflict.stderr, 'model-router: requestId "cli-remote-1" was already used for a different request (workflow route-default-cli-remote-1); a new request needs a new requestId\n');

    const unknown = await runCli(['route', '--address', server.address, '--prompt', 'hello', '--policy', 'no-such-policy'], { env });
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, 'model-router: policyId "no-such-policy" is not configured (known: default, bandit)\n');
  });

  it('with an address and a private worker serves its own task queue, not the deployed one', async () => {
    const session = await openSession({ address: server.address, privateWorker: true, env: { MODEL_ROUTER_DECISION_LOG: localLog } });
    try {
      const { taskQueue } = session.worker.options;
      assert.notEqual(taskQueue, TASK_QUEUE);
      assert.match(taskQueue, /^model-router-[0-9a-f-]{36}$/);
      await session.worker.runUntil(routeToEnd(session, request('session-private-1')));
      assert.equal((await session.wiring.store.get('session-private-1'))?.requestId, 'session-private-1');
      assert.equal((await production.store.get('session-private-1')), undefined);
    } finally {
      await session.close();
    }
  });

  it('embedded runs its worker on a private task queue and routes through it', async () => {
    const session = await openSession({ env: { MODEL_ROUTER_DECISION_LOG: localLog } });
    try {
      assert.notEqual(session.worker.options.taskQueue, TASK_QUEUE);
      const log = await session.worker.runUntil(routeToEnd(session, request('session-embedded-1')));
      assert.equal(log.requestId, 'session-embedded-1');
      assert.equal((await session.wiring.store.get('session-embedded-1'))?.requestId, 'session-embedded-1');
    } finally {
      await session.close();
    }
    const store = await DecisionLogStore.open(localLog);
    assert.deepEqual((await store.all()).map((l) => l.requestId).sort(), ['session-embedded-1', 'session-private-1']);
    await store.close();
  });
});
