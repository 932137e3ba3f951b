/**
 * A router worker in its own process, so a test can kill it as abruptly as a crashed host (SIGKILL: no shutdown,
 * no goodbye to the server). Run with `node --import tsx test/helpers/workerProcess.ts`, configured by env:
 *   TEMPORAL_ADDRESS     host:port of the Temporal server
 *   ROUTER_TASK_QUEUE    the task queue to poll
 *   LOOPBACK_BASE_URL    the loopback OpenAI server (models and judge)
 *   DECISION_LOG_PATH    optional SQLite decision-log file
 *   START_TO_CLOSE_MS    optional start-to-close timeout of model calls
 *   SPECULATIVE          optional JSON: the default policy's `speculative` option
 * Prints WORKER_READY on stdout once it polls.
 */
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { DecisionLogStore } from '../../src/analytics/decisionLogStore';
import { createRouterWorker } from '../../src/worker/createWorker';
import type { Speculative } from '../../src/domain/policy';
import { defaultPolicies } from './catalog';
import { loopbackDeps } from './loopbackRouter';

export const WORKER_READY = 'WORKER_READY';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set`);
  return value;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const connection = await NativeConnection.connect({ address: required('TEMPORAL_ADDRESS') });
  const startToCloseMs = process.env.START_TO_CLOSE_MS ? Number(process.env.START_TO_CLOSE_MS) : undefined;
  const worker = await createRouterWorker({
    connection,
    taskQueue: required('ROUTER_TASK_QUEUE'),
    workflows: { workflowsPath: require.resolve('../../src/workflows') },
    deps: loopbackDeps(required('LOOPBACK_BASE_URL'), {
      ...(startToCloseMs !== undefined && { startToCloseMs }),
      ...(process.env.DECISION_LOG_PATH && { decisionLog: await DecisionLogStore.open(process.env.DECISION_LOG_PATH) }),
      ...(process.env.SPECULATIVE && { policies: defaultPolicies({ speculative: JSON.parse(process.env.SPECULATIVE) as Speculative }) }),
    }),
  });
  const running = worker.run();
  process.stdout.write(`${WORKER_READY}\n`);
  await running;
  await connection.close();
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`worker process failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
