import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { installQuietRuntime } from './runtime';
import { RouterClient } from '../client';
import { dataConverterFromEnv, payloadCodecFromEnv } from '../codec';
import type { DataConverter } from '@temporalio/common';
import { FileContentStore } from '../claimCheck/contentStore';
import { TASK_QUEUE } from '../domain/taskQueue';
import { PROJECT_ROOT } from '../servers/binaries';
import { startLocalServer, type LocalServerOptions } from '../servers/localServer';
import { loadRouterConfig } from './config';
import { createRouterWorker } from './createWorker';
import { workflowCode } from './bundle';
import { DEFAULT_CONTENT_DIR, wireActivityDeps, type Wiring } from './wiring';
import { startWorkerMetrics, type WorkerMetrics } from './prometheus';
import { temporalSecurityFromEnv, type TemporalSecurity } from './temporalConnection';

/** A client of a Temporal server: what `route --address` needs. The server's own workers execute the requests. */
export interface ClientSession {
  router: RouterClient;
  client: Client;
  address: string;
  close(): Promise<void>;
}

/** A server with one in-process router worker (configured from this process's environment), and a client. */
export interface RouterSession extends ClientSession {
  nativeConnection: NativeConnection;
  worker: Worker;
  wiring: Wiring;
  uiUrl?: string;
  /** The worker's metrics endpoints, when the session was opened with `metricsPort`. */
  metrics?: Pick<WorkerMetrics, 'url' | 'sdkUrl'>;
}

/** A Temporal server this process did not start: its task queue belongs to the workers deployed there. */
export interface RemoteSessionOptions {
  address: string;
  /**
   * Also run an in-process worker (benchmarks), on a private task queue so that it never takes the deployed
   * workers' tasks and never answers their requests with this process's configuration.
   */
  privateWorker?: boolean;
  /** The deployed workers' task queue, for a client session (default MODEL_ROUTER_TASK_QUEUE, else the shared one). */
  taskQueue?: string;
  env?: NodeJS.ProcessEnv;
}

/** An embedded dev server, owned by this session. */
export interface EmbeddedSessionOptions {
  embedded?: LocalServerOptions;
  /**
   * The worker's task queue. A private one by default, so a session can never serve or steal another's tasks;
   * `dev` gives the shared one, since its server is there for other clients to route through.
   */
  taskQueue?: string;
  decisionLogPath?: string;
  /** Serve the worker's Prometheus metrics on this port and the SDK's on the next; `setting` names the option for errors. */
  metricsPort?: { port: number; setting: string };
  env?: NodeJS.ProcessEnv;
}

/** A refused or silent address fails within this, instead of the SDK's longer default. */
const CONNECT_TIMEOUT_MS = 5_000;

const privateTaskQueue = () => `${TASK_QUEUE}-${randomUUID()}`;

async function connectClient(address: string, namespace: string, dataConverter: DataConverter, security: TemporalSecurity): Promise<{ client: Client; connection: Connection }> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: CONNECT_TIMEOUT_MS, ...security });
    return { client: new Client({ connection, namespace, dataConverter }), connection };
  } catch (err) {
    throw new Error(`cannot reach Temporal at ${address}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Client only: nothing of this process's router configuration (providers, decision log) is opened. */
async function openClientSession(options: RemoteSessionOptions): Promise<ClientSession> {
  const env = options.env ?? process.env;
  const { client, connection } = await connectClient(options.address, env.TEMPORAL_NAMESPACE ?? 'default', dataConverterFromEnv(env), temporalSecurityFromEnv(env));
  // Large prompts go to the content store the deployed workers share (MODEL_ROUTER_CONTENT_DIR), encrypted as they are.
  const contentStore = new FileContentStore(env.MODEL_ROUTER_CONTENT_DIR || DEFAULT_CONTENT_DIR, payloadCodecFromEnv(env));
  return {
    router: new RouterClient({ client, taskQueue: options.taskQueue ?? env.MODEL_ROUTER_TASK_QUEUE ?? TASK_QUEUE, contentStore }),
    client,
    address: options.address,
    close: () => connection.close(),
  };
}

export function openSession(options: RemoteSessionOptions & { privateWorker?: false }): Promise<ClientSession>;
export function openSession(options?: EmbeddedSessionOptions | (RemoteSessionOptions & { privateWorker: true })): Promise<RouterSession>;
export async function openSession(options: EmbeddedSessionOptions | RemoteSessionOptions = {}): Promise<ClientSession | RouterSession> {
  if ('address' in options && !options.privateWorker) return openClientSession(options);
  const env = options.env ?? process.env;
  const config = loadRouterConfig(env);
  const dataConverter = dataConverterFromEnv(env);
  // Wired before any server starts, so a configuration error stops here with nothing to tear down.
  const wiring = await wireActivityDeps(config, env, 'decisionLogPath' in options && options.decisionLogPath ? { decisionLogPath: options.decisionLogPath } : {});
  const metricsPort = 'metricsPort' in options ? options.metricsPort : undefined;
  let workerMetrics: WorkerMetrics | undefined;
  try {
    // The SDK's exporter is part of the Runtime, installed before any connection.
    if (metricsPort) workerMetrics = await startWorkerMetrics(metricsPort.port, metricsPort.setting, (sdkMetrics) => installQuietRuntime({ sdkMetrics }));
    else installQuietRuntime();
  } catch (err) {
    await wiring.close();
    throw err;
  }

  let client: Client;
  let nativeConnection: NativeConnection;
  let address: string;
  let uiUrl: string | undefined;
  let stopServer: () => Promise<void>;
  let taskQueue: string;
  if ('address' in options) {
    address = options.address;
    taskQueue = privateTaskQueue();
    const security = temporalSecurityFromEnv(env);
    const remote = await connectClient(address, env.TEMPORAL_NAMESPACE ?? 'default', dataConverter, security);
    client = remote.client;
    nativeConnection = await NativeConnection.connect({ address, ...security });
    stopServer = async () => {
      await remote.connection.close();
      await nativeConnection.close();
    };
  } else {
    taskQueue = options.taskQueue ?? privateTaskQueue();
    const local = await startLocalServer({ logFile: join(PROJECT_ROOT, '.model-router', 'temporal-server.log'), dataConverter, ...options.embedded });
    ({ client, nativeConnection, address, uiUrl } = local);
    stopServer = () => local.teardown();
  }

  const deps = workerMetrics ? { ...wiring.deps, metrics: workerMetrics.metrics } : wiring.deps;
  const worker = await createRouterWorker({ connection: nativeConnection, client, taskQueue, deps, workflows: workflowCode(), dataConverter });
  return {
    router: new RouterClient({ client, taskQueue, knownPolicies: [...config.policies.keys()], contentStore: wiring.contentStore }),
    client,
    nativeConnection,
    worker,
    wiring,
    address,
    ...(uiUrl ? { uiUrl } : {}),
    ...(workerMetrics ? { metrics: { url: workerMetrics.url, sdkUrl: workerMetrics.sdkUrl } } : {}),
    async close() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await stopServer();
      await wiring.close();
      await workerMetrics?.close();
    },
  };
}
