import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from './errors';
import type { TokenBucketLimiter } from './rateLimit';
import type { KeyRing, Tenant, TenantsFile } from './tenants';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `authenticate` from the API key: every /v1 handler runs for one tenant. */
    tenant: Tenant | null;
  }
  interface FastifyInstance {
    /** Serves a new tenants file from the next request on (its policies checked first; a bad one changes nothing). */
    reloadTenants(file: TenantsFile): void;
  }
}

/** `Authorization: Bearer sk-...` → the key's tenant (in the key ring current then), or 401 as OpenAI words it. */
export function authenticator(currentKeys: () => KeyRing) {
  return async function authenticate(request: FastifyRequest): Promise<void> {
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) {
      throw new GatewayError(401, "You didn't provide an API key. Send it in the Authorization header as 'Bearer sk-...'", 'invalid_request_error', 'missing_api_key');
    }
    const tenant = currentKeys().lookup(match[1]!);
    // The key itself is never echoed: error bodies end up in logs.
    if (!tenant) throw new GatewayError(401, 'Incorrect API key provided', 'invalid_request_error', 'invalid_api_key');
    request.tenant = tenant;
  };
}

/** One token per request from the tenant's bucket, or 429 with Retry-After. */
export function rateLimiter(limiter: TokenBucketLimiter) {
  return async function rateLimit(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const tenant = request.tenant!;
    const decision = limiter.take(tenant.id, tenant.rateLimit);
    if (decision.allowed) {
      reply.header('x-ratelimit-remaining-requests', String(decision.remaining));
      return;
    }
    throw new GatewayError(
      429,
      `Rate limit reached for tenant "${tenant.id}": ${tenant.rateLimit.requestsPerMinute} requests per minute; retry in ${decision.retryAfterSeconds} s`,
      'requests',
      'rate_limit_exceeded',
      null,
      { 'retry-after': String(decision.retryAfterSeconds) },
    );
  };
}
