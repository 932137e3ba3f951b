import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, unwatchFile, watchFile, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { TenantIdSchema } from '../domain/request';
import { parseJsonOrThrow, parseOrThrow, ValidationError } from '../domain/validation';
import { PROJECT_ROOT } from '../servers/binaries';

/**
 * The tenants file: who may call the gateway, with which keys, policies, rate limit and budget. Keys are stored
 * only as SHA-256 hashes, so the file (and a leak of it) never holds a usable key.
 */

const policyId = z.string().min(1, 'must be a policy id');
/** 0 is a tenant that may spend nothing (every paid call refused). */
const usd = z.number().nonnegative('must be 0 or more (USD)').max(1_000_000, 'must be at most 1000000 (USD)');

export const ApiKeyRecordSchema = z
  .object({
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be the SHA-256 hex digest of the key (64 lower-case hex digits), never the key itself'),
    label: z.string().min(1).max(200).optional(),
    createdAt: z.string().datetime({ message: 'must be an ISO 8601 time (e.g. 2026-12-03T05:00:00Z)' }).optional(),
  })
  .strict();

export const TenantSchema = z
  .object({
    id: TenantIdSchema.removeDefault(),
    keys: z.array(ApiKeyRecordSchema),
    allowedPolicies: z.array(policyId).min(1, 'must list at least one policy'),
    defaultPolicy: policyId,
    rateLimit: z
      .object({
        requestsPerMinute: z.number().int('must be a whole number').positive('must be greater than 0').max(1_000_000),
        /** Requests that may arrive at once after a quiet spell; defaults to requestsPerMinute. */
        burst: z.number().int('must be a whole number').positive('must be greater than 0').max(1_000_000).optional(),
      })
      .strict(),
    budget: z.object({ dailyUsd: usd.optional(), monthlyUsd: usd.optional() }).strict().optional(),
  })
  .strict()
  .superRefine((tenant, ctx) => {
    if (!tenant.allowedPolicies.includes(tenant.defaultPolicy)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['defaultPolicy'], message: `must be one of allowedPolicies (${tenant.allowedPolicies.join(', ')}), got "${tenant.defaultPolicy}"` });
    }
  });
export type Tenant = z.infer<typeof TenantSchema>;

export const TenantsFileSchema = z
  .object({ tenants: z.array(TenantSchema) })
  .strict()
  .superRefine((file, ctx) => {
    const ids = new Map<string, number>();
    const hashes = new Map<string, string>();
    file.tenants.forEach((tenant, i) => {
      const first = ids.get(tenant.id);
      if (first !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['tenants', i, 'id'], message: `duplicate tenant id "${tenant.id}" (also tenants.${first}.id)` });
      ids.set(tenant.id, i);
      tenant.keys.forEach((key, k) => {
        // One key must name one tenant, or a request's tenant would depend on the file's order.
        const owner = hashes.get(key.sha256);
        if (owner !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['tenants', i, 'keys', k, 'sha256'], message: `duplicate key hash (also ${owner})` });
        hashes.set(key.sha256, `tenants.${i}.keys.${k}`);
      });
    });
  });
export type TenantsFile = z.infer<typeof TenantsFileSchema>;

export const DEFAULT_TENANTS_FILE = join(PROJECT_ROOT, '.model-router', 'tenants.json');

/** `--tenants FILE`, else MODEL_ROUTER_TENANTS, else .model-router/tenants.json. */
export function tenantsFilePath(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return option ?? (env.MODEL_ROUTER_TENANTS || DEFAULT_TENANTS_FILE);
}

export function parseTenantsFile(input: unknown, subject = 'tenants file'): TenantsFile {
  return parseOrThrow(TenantsFileSchema, input, subject);
}

/** Reads and validates a tenants file; a missing file says how to create one. */
export function loadTenantsFile(path: string): TenantsFile {
  const subject = `tenants file ${path}`;
  if (!existsSync(path)) throw new ValidationError(subject, [{ path: '(file)', message: 'does not exist; create it with `model-router keys add --tenant ID`' }]);
  return parseTenantsFile(parseJsonOrThrow(readFileSync(path, 'utf8'), subject), subject);
}

/**
 * Calls `apply` with the file each time it changes (polled once a second: a rename over it, as `keys add` writes, is
 * seen too). A file that does not load, or that `apply` refuses, is reported and the one before stays in force.
 * Returns the function that stops watching.
 */
export function watchTenantsFile(path: string, apply: (file: TenantsFile) => void, report: (line: string) => void = (line) => console.error(line)): () => void {
  const onChange = (current: { mtimeMs: number }, previous: { mtimeMs: number }) => {
    if (current.mtimeMs === previous.mtimeMs) return;
    try {
      const file = loadTenantsFile(path);
      apply(file);
      report(`tenants file ${path} reloaded: ${file.tenants.length} tenant(s)`);
    } catch (err) {
      report(`tenants file ${path} not reloaded, the previous one stays in force: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  watchFile(path, { interval: 1_000 }, onChange);
  return () => unwatchFile(path, onChange);
}

/** Written to a temporary file beside it and renamed over it, so a reader never sees half a file. */
export function writeTenantsFile(path: string, file: TenantsFile): void {
  const valid = parseTenantsFile(file);
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(valid, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, path);
}

/** `sk-` and 43 URL-safe characters (32 random bytes, base64url), as OpenAI's keys look. */
export function generateApiKey(): string {
  return `sk-${randomBytes(32).toString('base64url')}`;
}

export const API_KEY_PATTERN = /^sk-[A-Za-z0-9_-]{32,}$/;

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** What a new tenant gets from `keys add`: the default policy, 60 requests a minute, no budget. */
export function defaultTenant(id: string): Tenant {
  return { id, keys: [], allowedPolicies: ['default'], defaultPolicy: 'default', rateLimit: { requestsPerMinute: 60 } };
}

/**
 * A new key for `tenantId` (the tenant created with defaults when missing): the file to write and the key, which
 * exists only in the return value; the file keeps its hash.
 */
export function addApiKey(file: TenantsFile, tenantId: string, options: { label?: string; now: Date }): { file: TenantsFile; key: string; created: boolean } {
  const id = parseOrThrow(TenantIdSchema.removeDefault(), tenantId, 'tenant id');
  const key = generateApiKey();
  const record = { sha256: hashApiKey(key), ...(options.label ? { label: options.label } : {}), createdAt: options.now.toISOString() };
  const existing = file.tenants.find((t) => t.id === id);
  const tenants = existing
    ? file.tenants.map((t) => (t === existing ? { ...t, keys: [...t.keys, record] } : t))
    : [...file.tenants, { ...defaultTenant(id), keys: [record] }];
  return { file: parseTenantsFile({ tenants }), key, created: !existing };
}

/** Finds a key's tenant by its hash, comparing against every stored hash in constant time. */
export class KeyRing {
  private readonly entries: { hash: Buffer; tenant: Tenant }[];

  constructor(file: TenantsFile) {
    this.entries = file.tenants.flatMap((tenant) => tenant.keys.map((k) => ({ hash: Buffer.from(k.sha256, 'hex'), tenant })));
  }

  /** The key's tenant, or undefined. Every entry is compared (no early exit), so timing says nothing about which matched. */
  lookup(key: string): Tenant | undefined {
    if (!API_KEY_PATTERN.test(key)) return undefined;
    const hash = createHash('sha256').update(key, 'utf8').digest();
    let found: Tenant | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.hash, hash) && !found) found = entry.tenant;
    }
    return found;
  }
}
