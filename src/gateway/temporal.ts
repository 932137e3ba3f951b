import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import { FileContentStore } from '../claimCheck/contentStore';
import { RouterClient } from '../client';
import { dataConverterFromEnv, payloadCodecFromEnv } from '../codec';
import { TASK_QUEUE } from '../domain/taskQueue';
import { temporalSecurityFromEnv } from '../worker/temporalConnection';
import { DEFAULT_CONTENT_DIR } from '../worker/wiring';

export interface GatewayTemporal {
  client: Client;
  router: RouterClient;
  taskQueue: string;
  close(): Promise<void>;
}

/**
 * The gateway's client of the deployed workers, as `route --address` has (payload codec, shared content store,
 * task queue from the environment), with two differences that suit an HTTP front: the connection is lazy, so the
 * gateway starts (and answers 503) while Temporal is down and recovers when it is back; and a call gives up after
 * a few quick retries instead of the SDK's ~20 s, so a caller hears 503 promptly and can retry.
 */
export function connectGatewayTemporal(address: string, env: NodeJS.ProcessEnv = process.env): GatewayTemporal {
  const connection = Connection.lazy({
    address,
    ...temporalSecurityFromEnv(env),
    connectTimeout: 5_000,
    interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 3 }))],
  });
  const client = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE ?? 'default', dataConverter: dataConverterFromEnv(env) });
  const taskQueue = env.MODEL_ROUTER_TASK_QUEUE ?? TASK_QUEUE;
  const contentStore = new FileContentStore(env.MODEL_ROUTER_CONTENT_DIR || DEFAULT_CONTENT_DIR, payloadCodecFromEnv(env));
  return { client, router: new RouterClient({ client, taskQueue, contentStore }), taskQueue, close: () => connection.close() };
}
