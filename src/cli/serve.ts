import { parseArgs } from 'node:util';
import { ValidationError } from '../domain/validation';
import { checkTenantPolicies, createGateway } from '../gateway/server';
import { connectGatewayTemporal } from '../gateway/temporal';
import { loadTenantsFile, tenantsFilePath, watchTenantsFile } from '../gateway/tenants';
import { loadRouterConfig } from '../worker/config';
import { runningDevServer } from '../worker/devServerFile';
import { untilInterrupted } from './signals';

export function portOption(value: string | undefined, fallback: number, setting = '--port'): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n > 65_535) throw new ValidationError('command line', [{ path: setting, message: `must be a port number from 0 to 65535, got "${value}"` }]);
  return n;
}

/**
 * `serve [--port 8080] [--host 127.0.0.1] [--address HOST:PORT] [--tenants FILE] [--timeout-ms N]`: the
 * OpenAI-compatible gateway in front of the workers at --address (or TEMPORAL_ADDRESS, or the running `dev` server).
 */
export async function serveCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { port: { type: 'string' }, host: { type: 'string' }, address: { type: 'string' }, tenants: { type: 'string' }, 'timeout-ms': { type: 'string' } } });
  const port = portOption(values.port, 8080);
  const host = values.host ?? '127.0.0.1';
  const timeoutMs = values['timeout-ms'] === undefined ? undefined : Number(values['timeout-ms']);
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs > 0)) {
    throw new ValidationError('command line', [{ path: '--timeout-ms', message: `must be a whole number of milliseconds above 0, got "${values['timeout-ms']}"` }]);
  }
  // Configuration first, so a bad tenants file or policy stops here with nothing opened.
  const tenantsPath = tenantsFilePath(values.tenants);
  const tenants = loadTenantsFile(tenantsPath);
  const config = loadRouterConfig(process.env);
  const policyIds = [...config.policies.keys()];
  checkTenantPolicies(tenants, policyIds);
  const address = values.address ?? process.env.TEMPORAL_ADDRESS ?? runningDevServer()?.address;
  if (!address) throw new ValidationError('command line', [{ path: '--address', message: 'is required: no TEMPORAL_ADDRESS and no running `model-router dev` server' }]);

  const temporal = connectGatewayTemporal(address);
  const gateway = createGateway({
    router: temporal.router,
    temporal: temporal.client,
    taskQueue: temporal.taskQueue,
    tenants,
    catalogModels: config.catalog.models.map((m) => m.id),
    policyIds,
    ...(timeoutMs !== undefined ? { requestTimeoutMs: timeoutMs } : {}),
    logger: { level: process.env.MODEL_ROUTER_GATEWAY_LOG ?? 'warn' },
  });
  try {
    const url = await gateway.listen({ port, host });
    console.log(`Gateway:   ${url}/v1 (OpenAI-compatible; ${tenants.tenants.length} tenant(s) from ${tenantsPath})`);
    console.log(`Temporal:  ${address}, task queue "${temporal.taskQueue}"`);
    const ready = await gateway.inject({ method: 'GET', url: '/readyz' });
    console.log(`Readiness: ${ready.statusCode === 200 ? 'ready' : `not ready yet (${(JSON.parse(ready.body) as { reason: string }).reason})`}. Ctrl-C to stop.`);
    const stopWatching = watchTenantsFile(tenantsPath, (file) => gateway.reloadTenants(file));
    try {
      await untilInterrupted();
    } finally {
      stopWatching();
    }
  } finally {
    await gateway.close();
    await temporal.close();
  }
}
