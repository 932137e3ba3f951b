import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { dataConverterFromEnv } from '../codec';
import { TASK_QUEUE } from '../domain/taskQueue';
import { WORKFLOW_BUNDLE_PATH } from './bundle';
import { loadRouterConfig } from './config';
import { createRouterWorker } from './createWorker';
import { wireActivityDeps } from './wiring';
import { existsSync } from 'node:fs';

/**
 * The production worker: connects to TEMPORAL_ADDRESS, loads the prebuilt workflow bundle, and on SIGINT or
 * SIGTERM stops polling, lets running activities finish (up to the grace time) and exits.
 */
export async function runWorker(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (!existsSync(WORKFLOW_BUNDLE_PATH)) throw new Error(`no workflow bundle at ${WORKFLOW_BUNDLE_PATH}: run "npm run build" first`);
  Runtime.install({ shutdownSignals: ['SIGINT', 'SIGTERM'] });
  const config = loadRouterConfig(env);
  const { deps, store } = wireActivityDeps(config, env);
  const address = env.TEMPORAL_ADDRESS ?? 'localhost:7233';
  const namespace = env.TEMPORAL_NAMESPACE ?? 'default';
  const dataConverter = dataConverterFromEnv(env);
  const connection = await NativeConnection.connect({ address });
  const clientConnection = await Connection.connect({ address });
  try {
    const worker = await createRouterWorker({
      connection,
      client: new Client({ connection: clientConnection, namespace, dataConverter }),
      dataConverter,
      namespace,
      taskQueue: env.MODEL_ROUTER_TASK_QUEUE ?? TASK_QUEUE,
      deps,
      workflows: { bundlePath: WORKFLOW_BUNDLE_PATH },
    });
    console.error(`model-router worker polling "${worker.options.taskQueue}" on ${env.TEMPORAL_ADDRESS ?? 'localhost:7233'}`);
    await worker.run();
    console.error('model-router worker stopped');
  } finally {
    await clientConnection.close();
    await connection.close();
    store.close();
  }
}

if (require.main === module) {
  runWorker().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
