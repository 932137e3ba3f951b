import { existsSync } from 'node:fs';
import { addApiKey, loadTenantsFile, parseTenantsFile, type Tenant, type TenantsFile } from './tenants';

/*
 * The development tenant that `dev` and the demo put in front of their gateway. Its key is made afresh at each
 * start and lives only in that process (printed once, never written), so no plaintext key is left on disk and a
 * restart does not pile keys into the tenants file.
 */

export const DEV_TENANT = 'dev';

/** What the development tenant may do: every policy the workers serve, a generous rate, and a small daily budget. */
export function devTenantSettings(policyIds: readonly string[]): Omit<Tenant, 'id' | 'keys'> {
  return {
    allowedPolicies: [...policyIds],
    defaultPolicy: policyIds.includes('default') ? 'default' : policyIds[0]!,
    rateLimit: { requestsPerMinute: 600 },
    budget: { dailyUsd: 10 },
  };
}

/**
 * The tenants the gateway serves: those of the tenants file when there is one, plus a new key for tenant "dev"
 * (created with devTenantSettings when the file has no such tenant; a "dev" tenant of the file keeps its settings).
 */
export function withDevKey(file: TenantsFile, policyIds: readonly string[], now: Date): { file: TenantsFile; key: string } {
  const hasDev = file.tenants.some((t) => t.id === DEV_TENANT);
  const base = hasDev ? file : parseTenantsFile({ tenants: [...file.tenants, { id: DEV_TENANT, keys: [], ...devTenantSettings(policyIds) }] });
  const { file: withKey, key } = addApiKey(base, DEV_TENANT, { label: `model-router dev session ${now.toISOString()}`, now });
  return { file: withKey, key };
}

/** The tenants file at `path` if it exists (validated), else none. */
export function tenantsFileIfAny(path: string): TenantsFile {
  return existsSync(path) ? loadTenantsFile(path) : { tenants: [] };
}
