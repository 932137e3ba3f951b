import { ValidationError } from '../domain/validation';
import type { RouterSession } from '../worker/session';
import { withDevKey, tenantsFileIfAny, DEV_TENANT } from './devTenant';
import { createGateway } from './server';

export interface LocalGateway {
  /** The OpenAI base URL: http://HOST:PORT/v1. */
  baseUrl: string;
  /** The development tenant's key, valid for this process's life only. */
  key: string;
  tenant: string;
  close(): Promise<void>;
}

/**
 * The gateway in front of a session's own worker, for `dev` and the demo: the tenants of the tenants file (when it
 * exists) and a development tenant whose key is made now. A port already taken is an error naming `setting`.
 */
export async function startLocalGateway(
  session: RouterSession,
  options: { port: number; host?: string; /** Whose tenants to serve beside the dev tenant; none: the dev tenant alone. */ tenantsPath?: string; setting: string; now?: Date },
): Promise<LocalGateway> {
  const policyIds = [...session.wiring.deps.policies.keys()];
  const { file, key } = withDevKey(options.tenantsPath ? tenantsFileIfAny(options.tenantsPath) : { tenants: [] }, policyIds, options.now ?? new Date());
  const gateway = createGateway({
    router: session.router,
    temporal: session.client,
    taskQueue: session.worker.options.taskQueue,
    tenants: file,
    catalogModels: session.wiring.deps.catalog.models.map((m) => m.id),
    policyIds,
  });
  const host = options.host ?? '127.0.0.1';
  try {
    const url = await gateway.listen({ port: options.port, host });
    return { baseUrl: `${url}/v1`, key, tenant: DEV_TENANT, close: () => gateway.close() };
  } catch (err) {
    await gateway.close();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new ValidationError('command line', [{ path: options.setting, message: `port ${options.port} on ${host} is already in use; pick another (0 picks a free one)` }]);
    throw err;
  }
}
