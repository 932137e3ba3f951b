import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { installQuietRuntime } from './runtime';
import { join } from 'node:path';
import { RouterClient } from '../client';
import { dataConverterFromEnv } from '../codec';
import { PROJECT_ROOT } from '../servers/binaries';
import { startLocalServer, type LocalServerOptions } from '../servers/localServer';
import { loadRouterConfig } from './config';
import { createRouterWorker } from './createWorker';
import { workflowCode } from './bundle';
import { wireActivityDeps, type Wiring } from './wiring';

/** A Temporal server (embedded or remote), one in-process worker, and a client: what every CLI command needs. */
export interface RouterSession {
  router: RouterClient;
  client: Client;
  nativeConnection: NativeConnection;
  worker: Worker;
  wiring: Wiring;
  address: string;
  uiUrl?: string;
  close(): Promise<void>;
}

export interface SessionOptions {
  /** Connect here instead of starting an embedded dev server. */
  address?: string;
  embedded?: LocalServerOptions;
  decisionLogPath?: string;
  env?: NodeJS.ProcessEnv;
}

export async function openSession(options: SessionOptions = {}): Promise<RouterSession> {
  const env = options.env ?? process.env;
  installQuietRuntime();
  const config = loadRouterConfig(env);
  const dataConverter = dataConverterFromEnv(env);
  const wiring = wireActivityDeps(config, env, options.decisionLogPath ? { decisionLogPath: options.decisionLogPath } : {});

  let client: Client;
  let nativeConnection: NativeConnection;
  let address: string;
  let uiUrl: string | undefined;
  let stopServer = async () => {};
  if (options.address) {
    address = options.address;
    const connection = await Connection.connect({ address });
    client = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE ?? 'default', dataConverter });
    nativeConnection = await NativeConnection.connect({ address });
    stopServer = async () => {
      await connection.close();
      await nativeConnection.close();
    };
  } else {
    const local = await startLocalServer({ logFile: join(PROJECT_ROOT, '.model-router', 'temporal-server.log'), dataConverter, ...options.embedded });
    ({ client, nativeConnection, address, uiUrl } = local);
    stopServer = () => local.teardown();
  }

  const worker = await createRouterWorker({ connection: nativeConnection, client, deps: wiring.deps, workflows: workflowCode(), dataConverter });
  return {
    router: new RouterClient({ client, contentStore: wiring.contentStore }),
    client,
    nativeConnection,
    worker,
    wiring,
    address,
    ...(uiUrl ? { uiUrl } : {}),
    async close() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await stopServer();
      await wiring.close();
    },
  };
}
