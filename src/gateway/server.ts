import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { hasZodFastifySchemaValidationErrors, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ID_PATTERN, type RouteRequestInput } from '../domain/request';
import type { DecisionLog } from '../domain/results';
import { explainIssues, ValidationError } from '../domain/validation';
import { authenticator, rateLimiter } from './auth';
import { ChatCompletionBodySchema, chatRequestParts, paramOf } from './chatRequest';
import { chatCompletion, completionChunks, routerHeaders } from './chatResponse';
import { DO_NOT_RETRY, GatewayError, gatewayErrorOf, invalidRequest, unknownModel } from './errors';
import { TokenBucketLimiter } from './rateLimit';
import { writeEventStream } from './sse';
import { KeyRing, type Tenant, type TenantsFile } from './tenants';

/** What the gateway needs of the typed client: tenant-scoped routing, and an answer fetched by request id. */
export interface GatewayRouter {
  route(input: RouteRequestInput): Promise<DecisionLog>;
  result(tenant: string, requestId: string): Promise<DecisionLog>;
}

export interface GatewayOptions {
  router: GatewayRouter;
  /** For readiness: is Temporal reachable, and does a worker poll the task queue. */
  temporal: Client;
  taskQueue: string;
  tenants: TenantsFile;
  /** Catalog model ids (answer with that model alone) and the policy ids the workers serve. */
  catalogModels: readonly string[];
  policyIds: readonly string[];
  /** Past this, 504: the workflow goes on and GET /v1/router/requests/:id has its answer. Default 60 s. */
  requestTimeoutMs?: number;
  /** Largest request body, bytes (413 above it). Default 4 MiB. */
  bodyLimitBytes?: number;
  /** The rate limiter's clock, in milliseconds. */
  now?: () => number;
  /** Fastify's logger setting (default: none). */
  logger?: FastifyServerOptions['logger'];
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
export const DEFAULT_BODY_LIMIT_BYTES = 4 * 1024 * 1024;

const ROUTER_MODEL = 'router';
const ROUTER_PREFIX = 'router/';

/** Every policy a tenant names must be one the workers serve, or its requests would fail one by one. */
export function checkTenantPolicies(tenants: TenantsFile, policyIds: readonly string[]): void {
  const issues = tenants.tenants.flatMap((t, i) =>
    t.allowedPolicies.flatMap((p, j) => (policyIds.includes(p) ? [] : [{ path: `tenants.${i}.allowedPolicies.${j}`, message: `policy "${p}" is not configured (known: ${policyIds.join(', ')})` }])),
  );
  if (issues.length > 0) throw new ValidationError('tenants file', issues);
}

/** `model` → the policy that routes it, and the model it is pinned to when it names a catalog model. */
function targetOf(model: string, tenant: Tenant, options: GatewayOptions): { policyId: string; pinnedModel?: string } {
  if (model === ROUTER_MODEL) return { policyId: tenant.defaultPolicy };
  if (model.startsWith(ROUTER_PREFIX)) {
    const policyId = model.slice(ROUTER_PREFIX.length);
    if (!options.policyIds.includes(policyId)) throw unknownModel(model, modelIds(tenant, options));
    if (!tenant.allowedPolicies.includes(policyId)) {
      throw new GatewayError(403, `Policy "${policyId}" is not allowed for tenant "${tenant.id}" (allowed: ${tenant.allowedPolicies.join(', ')})`, 'invalid_request_error', 'policy_not_allowed', 'model');
    }
    return { policyId };
  }
  if (options.catalogModels.includes(model)) return { policyId: tenant.defaultPolicy, pinnedModel: model };
  throw unknownModel(model, modelIds(tenant, options));
}

function modelIds(tenant: Tenant, options: GatewayOptions): string[] {
  return [ROUTER_MODEL, ...tenant.allowedPolicies.map((p) => `${ROUTER_PREFIX}${p}`), ...options.catalogModels];
}

const TIMED_OUT = Symbol('timed out');

/** The answer, or TIMED_OUT; the work itself is never cancelled (a durable request finishes either way). */
async function within<T>(work: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), ms)));
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    // Whatever it ends with after the caller was answered is not the caller's error any more.
    work.catch(() => {});
  }
}

/**
 * 504 with the request still running. OpenAI's clients retry a 5xx on their own; without an Idempotency-Key that
 * retry would be a second durable request (a new id) that spends again, so it is told not to (`x-should-retry`).
 * With the caller's key a retry re-attaches to the same run, which is what it should do.
 */
function stillRunning(requestId: string, ms: number, callerKey: boolean): GatewayError {
  return new GatewayError(
    504,
    `The request is still running after ${Math.round(ms / 1000)} s; it will finish. Fetch its answer with GET /v1/router/requests/${requestId}, or retry with Idempotency-Key: ${requestId} (no second model call)`,
    'timeout',
    'request_timeout',
    null,
    callerKey ? {} : DO_NOT_RETRY,
  );
}

/** The OpenAI-compatible HTTP front of the router; the caller listens on it (and closes it). */
export function createGateway(options: GatewayOptions): FastifyInstance {
  checkTenantPolicies(options.tenants, options.policyIds);
  let keys = new KeyRing(options.tenants);
  const timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const authenticate = authenticator(() => keys);
  const rateLimit = rateLimiter(new TokenBucketLimiter(options.now));

  const app = Fastify({ bodyLimit: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES, logger: options.logger ?? false }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest('tenant', null);
  // A request already past authentication keeps the tenant it found; the next one sees the new file.
  app.decorate('reloadTenants', (file: TenantsFile) => {
    checkTenantPolicies(file, options.policyIds);
    keys = new KeyRing(file);
  });

  app.setErrorHandler((err, request, reply) => {
    const error = (() => {
      if (err instanceof GatewayError) return err;
      if (hasZodFastifySchemaValidationErrors(err)) {
        const issues = explainIssues(err.validation.map((v) => v.params.issue));
        return invalidRequest(issues.map((i) => `${paramOf(i.path) ?? '(body)'}: ${i.message}`).join('; '), paramOf(issues[0]?.path ?? []));
      }
      const status = (err as { statusCode?: number }).statusCode;
      if (status === 413) return new GatewayError(413, `Request body too large: at most ${options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES} bytes`, 'invalid_request_error', 'request_too_large');
      if (status === 415) return new GatewayError(415, `${(err as Error).message}; send application/json`, 'invalid_request_error', 'unsupported_media_type');
      if (status !== undefined && status >= 400 && status < 500) return invalidRequest(`We could not parse the JSON body of your request: ${(err as Error).message}`, null);
      request.log.error(err);
      return new GatewayError(500, 'The gateway failed; see its log', 'server_error');
    })();
    void reply.code(error.status).headers(error.headers).send(error.body());
  });

  app.setNotFoundHandler((request, reply) => {
    const error = new GatewayError(404, `Unknown request URL: ${request.method} ${request.url}`, 'invalid_request_error', 'unknown_url');
    void reply.code(404).send(error.body());
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    try {
      const { pollers } = await options.temporal.connection.withDeadline(Date.now() + 5_000, () =>
        options.temporal.workflowService.describeTaskQueue({ namespace: options.temporal.options.namespace, taskQueue: { name: options.taskQueue }, taskQueueType: 1 }),
      );
      const count = pollers?.length ?? 0;
      if (count === 0) return reply.code(503).send({ status: 'not ready', reason: `no worker is polling task queue "${options.taskQueue}"` });
      return { status: 'ready', taskQueue: options.taskQueue, workflowPollers: count };
    } catch (err) {
      return reply.code(503).send({ status: 'not ready', reason: `Temporal is unreachable: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` });
    }
  });

  app.get('/v1/models', { onRequest: authenticate }, async (request) => {
    const tenant = request.tenant!;
    return {
      object: 'list',
      data: modelIds(tenant, options).map((id) => ({ id, object: 'model', created: 0, owned_by: id === ROUTER_MODEL || id.startsWith(ROUTER_PREFIX) ? 'model-router' : 'catalog' })),
    };
  });

  app.post('/v1/chat/completions', { onRequest: [authenticate, rateLimit], schema: { body: ChatCompletionBodySchema } }, async (request, reply) => {
    const tenant = request.tenant!;
    const body = request.body;
    const target = targetOf(body.model, tenant, options);
    const key = request.headers['idempotency-key'];
    if (key !== undefined && (typeof key !== 'string' || !ID_PATTERN.test(key))) {
      throw invalidRequest('Idempotency-Key must be 1-128 characters of letters, digits, ".", "_", ":" or "-", starting with a letter or digit', 'Idempotency-Key');
    }
    const requestId = key ?? `gw-${randomUUID()}`;
    const parts = chatRequestParts(body);
    const input: RouteRequestInput = {
      requestId,
      prompt: parts.prompt,
      history: parts.history,
      ...parts.metadata,
      ...(parts.outputSchema ? { outputSchema: parts.outputSchema } : {}),
      ...(parts.maxOutputTokens !== undefined ? { maxOutputTokens: parts.maxOutputTokens } : {}),
      tenant: tenant.id,
      policyId: target.policyId,
      ...(target.pinnedModel ? { pinnedModel: target.pinnedModel } : {}),
      ...(tenant.budget ? { tenantBudget: tenant.budget } : {}),
    };
    reply.header('x-router-request-id', requestId);
    let log: DecisionLog | typeof TIMED_OUT;
    try {
      log = await within(options.router.route(input), timeoutMs);
    } catch (err) {
      if (!(err instanceof GatewayError || err instanceof ValidationError)) request.log.warn({ err, requestId }, 'routing failed');
      throw gatewayErrorOf(err, body.messages.length - 1);
    }
    if (log === TIMED_OUT) throw stillRunning(requestId, timeoutMs, key !== undefined);
    if (body.stream) {
      reply.hijack();
      writeEventStream(reply.raw, routerHeaders(log), completionChunks(log, body.stream_options?.include_usage === true));
      return reply;
    }
    return reply.headers(routerHeaders(log)).send(chatCompletion(log));
  });

  app.get('/v1/router/requests/:requestId', { onRequest: authenticate, schema: { params: z.object({ requestId: z.string().regex(ID_PATTERN, 'must be a request id (the x-router-request-id of the response)') }) } }, async (request, reply) => {
    const tenant = request.tenant!;
    const { requestId } = request.params;
    let log: DecisionLog | typeof TIMED_OUT;
    try {
      log = await within(options.router.result(tenant.id, requestId), timeoutMs);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new GatewayError(404, `No request "${requestId}" for tenant "${tenant.id}"`, 'invalid_request_error', 'request_not_found', 'requestId');
      throw gatewayErrorOf(err, 0);
    }
    if (log === TIMED_OUT) throw stillRunning(requestId, timeoutMs, true);
    return reply.headers(routerHeaders(log)).send(chatCompletion(log));
  });

  return app as unknown as FastifyInstance;
}
