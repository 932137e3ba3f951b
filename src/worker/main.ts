import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { dataConverterFromEnv } from '../codec';
import { TASK_QUEUE } from '../domain/taskQueue';
import { WORKFLOW_BUNDLE_PATH } from './bundle';
import { loadRouterConfig } from './config';
import { createRouterWorker, DEFAULT_SHUTDOWN_GRACE_MS } from './createWorker';
import { wireActivityDeps } from './wiring';
import { startWorkerMetrics, type WorkerMetrics } from './prometheus';
import { installWorkerRuntime } from './runtime';
import { existsSync } from 'node:fs';
import { temporalSecurityFromEnv } from './temporalConnection';

/** MODEL_ROUTER_SHUTDOWN_GRACE_MS: how long a stopping worker lets running calls finish (default 30 s). */
function shutdownGraceTime(env: NodeJS.ProcessEnv): number {
  const raw = env.MODEL_ROUTER_SHUTDOWN_GRACE_MS;
  if (raw === undefined || raw === '') return DEFAULT_SHUTDOWN_GRACE_MS;
  if (!/^\d+$/.test(raw)) throw new Error(`MODEL_ROUTER_SHUTDOWN_GRACE_MS must be a whole number of milliseconds, got "${raw}"`);
  return Number(raw);
}

export interface RunWorkerOptions {
  /** Serve Prometheus metrics: the router's on this port, the SDK's on the next; `setting` names the option for errors. */
  metricsPort?: { port: number; setting: string };
}

/**
 * The production worker: connects to TEMPORAL_ADDRESS, loads the prebuilt workflow bundle, and on SIGINT or
 * SIGTERM stops polling, lets running activities finish (up to the grace time) and exits.
 */
export async function runWorker(env: NodeJS.ProcessEnv = process.env, options: RunWorkerOptions = {}): Promise<void> {
  if (!existsSync(WORKFLOW_BUNDLE_PATH)) throw new Error(`no workflow bundle at ${WORKFLOW_BUNDLE_PATH}: run "npm run build" first`);
  const { metricsPort } = options;
  let workerMetrics: WorkerMetrics | undefined;
  if (metricsPort) workerMetrics = await startWorkerMetrics(metricsPort.port, metricsPort.setting, (sdkMetrics) => installWorkerRuntime({ sdkMetrics }));
  else installWorkerRuntime();
  try {
    await serve(env, workerMetrics);
  } finally {
    await workerMetrics?.close();
  }
}

async function serve(env: NodeJS.ProcessEnv, workerMetrics: WorkerMetrics | undefined): Promise<void> {
  const config = loadRouterConfig(env);
  const wiring = await wireActivityDeps(config, env);
  const address = env.TEMPORAL_ADDRESS ?? 'localhost:7233';
  const namespace = env.TEMPORAL_NAMESPACE ?? 'default';
  const dataConverter = dataConverterFromEnv(env);
  // Settings first: a bad TLS file or flag is named before anything connects.
  const security = temporalSecurityFromEnv(env);
  const connection = await NativeConnection.connect({ address, ...security });
  const clientConnection = await Connection.connect({ address, ...security });
  try {
    const worker = await createRouterWorker({
      connection,
      client: new Client({ connection: clientConnection, namespace, dataConverter }),
      dataConverter,
      namespace,
      taskQueue: env.MODEL_ROUTER_TASK_QUEUE ?? TASK_QUEUE,
      deps: workerMetrics ? { ...wiring.deps, metrics: workerMetrics.metrics } : wiring.deps,
      shutdownGraceTime: shutdownGraceTime(env),
      workflows: { bundlePath: WORKFLOW_BUNDLE_PATH },
    });
    if (workerMetrics) console.error(`model-router metrics at ${workerMetrics.url}, the Temporal SDK's at ${workerMetrics.sdkUrl}`);
    console.error(`model-router worker polling "${worker.options.taskQueue}" on ${env.TEMPORAL_ADDRESS ?? 'localhost:7233'}`);
    await worker.run();
    console.error('model-router worker stopped');
  } finally {
    await clientConnection.close();
    await connection.close();
    await wiring.close();
  }
}

if (require.main === module) {
  runWorker().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
