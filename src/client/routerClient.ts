import {
  ActivityFailure,
  ApplicationFailure,
  Client,
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowHandle,
  type WorkflowStartOptions,
} from '@temporalio/client';
import { RouteRequestSchema, type RouteRequest, type RouteRequestInput } from '../domain/request';
import { requestFingerprint } from '../domain/requestFingerprint';
import type { DecisionLog } from '../domain/results';
import { parseOrThrow } from '../domain/validation';
import { TASK_QUEUE } from '../domain/taskQueue';
import { LOCAL_QUICK_STEPS_MEMO } from '../domain/workflowIds';
import type { ContentStore } from '../claimCheck/contentStore';
import { checkIn } from '../claimCheck/request';
import { banditWorkflowId, budgetWorkflowId, feedbackWorkflowId, legacyRouteWorkflowId, routeWorkflowId } from '../domain/workflowIds';
import { TenantIdSchema } from '../domain/request';
import { Tenant } from '../workflows/searchAttributes';
import { ValidationError } from '../domain/validation';
import type { AdminChange, BanditSummary } from '../routing/strategies/bandit/types';
import type { banditFeedback, routeRequest } from '../workflows';
import { banditAdminUpdate, banditViewQuery, type BanditStateView } from '../workflows/banditState';
import { answerUpdate } from '../workflows/routeRequest';
import { budgetViewQuery, type BudgetWorkflowView } from '../workflows/budget';
import { budgetView, emptyLedger } from '../budget/ledger';
import { RequestConflictError, RouteFailedError } from './errors';

export { routeWorkflowId } from '../domain/workflowIds';

/** Throws a ValidationError naming every bad field; nothing is started for a bad request. */
export function validateRouteRequest(input: unknown): RouteRequest {
  return parseOrThrow(RouteRequestSchema, input, 'RouteRequest');
}

export interface RouterClientOptions {
  client: Client;
  taskQueue?: string;
  /** Where prompts too large for the history go (shared with the workers); without one they are refused. */
  contentStore?: ContentStore;
  /**
   * The policy ids the workers serve, when the caller knows them (a session with its own worker): an unknown
   * policyId is then refused before anything starts. Without them the workflow's UnknownPolicy failure says so.
   */
  knownPolicies?: readonly string[];
}

/** The memo key of the fingerprint a route workflow is started with. */
export const REQUEST_FINGERPRINT_MEMO = 'requestFingerprint';

/** A workflow failure no retry can fix, as a RouteFailedError carrying the failure's own message; else undefined. */
function routeFailure(err: unknown, workflowId: string): RouteFailedError | undefined {
  if (!(err instanceof WorkflowFailedError)) return undefined;
  let cause = err.cause;
  while (cause instanceof ActivityFailure) cause = cause.cause;
  if (!(cause instanceof ApplicationFailure) || !cause.nonRetryable) return undefined;
  return new RouteFailedError(cause.message, cause.type ?? 'Error', workflowId, { cause: err });
}

interface RouteStart {
  requestId: string;
  fingerprint: string;
  options: WorkflowStartOptions<typeof routeRequest> & { workflowId: string; workflowIdConflictPolicy: 'FAIL' };
}

/** The backend's entry point: one durable routing workflow per requestId. */
export class RouterClient {
  private readonly client: Client;
  private readonly taskQueue: string;
  private readonly contentStore: ContentStore | undefined;
  private readonly knownPolicies: readonly string[] | undefined;

  constructor(options: RouterClientOptions) {
    this.client = options.client;
    this.taskQueue = options.taskQueue ?? TASK_QUEUE;
    this.contentStore = options.contentStore;
    this.knownPolicies = options.knownPolicies;
  }

  /**
   * Starts routing, or — when this requestId is running or has completed with the same content — returns the
   * handle of the run that has it, so a retried request never pays for a second model call. The same requestId
   * with different content throws a RequestConflictError.
   */
  async startRoute(input: RouteRequestInput): Promise<WorkflowHandle<typeof routeRequest>> {
    const start = await this.startOptions(input);
    try {
      return await this.client.workflow.start<typeof routeRequest>('routeRequest', start.options);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    return this.joinDuplicate(start);
  }

  /**
   * Routes a request and returns its decision log. By default the answer returns early: the request's workflow is
   * started with an update (update-with-start) that completes as soon as the kept answer is known, and the decision
   * log row and the bandit's outcome are written after the caller has it. `{ earlyReturn: false }` waits for the
   * workflow's end instead (the row is then written when this returns). Either way the same requestId runs once, and
   * a duplicate joins the run that has it. A failure no retry can fix (an unknown policy, every model failed)
   * throws a RouteFailedError with the failure's message.
   */
  async route(input: RouteRequestInput, options: { earlyReturn?: boolean } = {}): Promise<DecisionLog> {
    let handle: WorkflowHandle<typeof routeRequest>;
    if (options.earlyReturn === false) {
      handle = await this.startRoute(input);
    } else {
      const start = await this.startOptions(input);
      const operation = new WithStartWorkflowOperation<typeof routeRequest>('routeRequest', start.options);
      try {
        return await this.client.workflow.executeUpdateWithStart(answerUpdate, { startWorkflowOperation: operation });
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) handle = await this.joinDuplicate(start);
        // The workflow failed before answering (or its worker predates the update): its result says why.
        else if (err instanceof WorkflowUpdateFailedError) handle = await operation.workflowHandle();
        else throw err;
      }
    }
    try {
      return await handle.result();
    } catch (err) {
      throw routeFailure(err, handle.workflowId) ?? err;
    }
  }

  /** Validates, fingerprints and claim-checks a request; nothing is started for a bad one. */
  private async startOptions(input: RouteRequestInput): Promise<RouteStart> {
    const validated = validateRouteRequest(input);
    const fingerprint = requestFingerprint(validated);
    if (this.knownPolicies && !this.knownPolicies.includes(validated.policyId)) {
      throw new ValidationError('RouteRequest', [{ path: 'policyId', message: `unknown policy "${validated.policyId}" (known: ${this.knownPolicies.join(', ')})` }]);
    }
    // Fingerprinted on the content itself; only then may a large prompt leave for the content store.
    const request = await checkIn(validated, this.contentStore);
    const workflowId = routeWorkflowId(request.tenant, request.requestId);
    return {
      requestId: request.requestId,
      fingerprint,
      options: {
        args: [request],
        taskQueue: this.taskQueue,
        workflowId,
        // A running or completed duplicate is refused here and joined after its content is compared; one that
        // failed (all models down, terminated) may run again, so the caller can retry it.
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
        // Set at start, not by the workflow: runs are listed by tenant from the first moment, and no command changes.
        typedSearchAttributes: [{ key: Tenant, value: request.tenant }],
        memo: {
          [REQUEST_FINGERPRINT_MEMO]: fingerprint,
          // The SDK records local activities' results unencoded: only a client that encrypts nothing allows them.
          ...(this.client.workflow.options.loadedDataConverter.payloadCodecs.length === 0 && { [LOCAL_QUICK_STEPS_MEMO]: true }),
        },
        staticSummary: `route ${request.taskType} request ${request.requestId} (${request.domain}, policy ${request.policyId})`,
      },
    };
  }

  /**
   * Only a duplicate pays for this read: the run that has the id must have been started with the same content.
   * A run started before fingerprints were recorded has none and is joined as before.
   */
  private async joinDuplicate(start: RouteStart): Promise<WorkflowHandle<typeof routeRequest>> {
    const handle = this.client.workflow.getHandle<typeof routeRequest>(start.options.workflowId);
    const { memo } = await handle.describe();
    const existing = memo?.[REQUEST_FINGERPRINT_MEMO];
    if (typeof existing === 'string' && existing !== start.fingerprint) throw new RequestConflictError(start.requestId, start.options.workflowId);
    return handle;
  }

  /**
   * The answer to a tenant's request that was started earlier (say, by a gateway call that timed out): waits for the
   * run to end. Runs started before ids were tenant-scoped are found under their old id `route-<requestId>`.
   */
  async result(tenant: string, requestId: string): Promise<DecisionLog> {
    const handle = await this.routeHandle(tenant, requestId);
    try {
      return await handle.result();
    } catch (err) {
      throw routeFailure(err, handle.workflowId) ?? err;
    }
  }

  /** The run of a tenant's request: under its tenant-scoped id, or, for a run from before that, under the old one. */
  private async routeHandle(tenant: string, requestId: string): Promise<WorkflowHandle<typeof routeRequest>> {
    const scoped = this.client.workflow.getHandle<typeof routeRequest>(routeWorkflowId(parseOrThrow(TenantIdSchema, tenant, 'tenant'), requestId));
    try {
      await scoped.describe();
      return scoped;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      const legacy = this.client.workflow.getHandle<typeof routeRequest>(legacyRouteWorkflowId(requestId));
      // Not found under either id is reported under the tenant-scoped one, the id the request has today.
      const { typedSearchAttributes } = await legacy.describe().catch((legacyErr: unknown) => {
        throw legacyErr instanceof WorkflowNotFoundError ? err : legacyErr;
      });
      // An old run carries no Tenant attribute and belonged to the default tenant; another tenant's is not readable.
      if ((typedSearchAttributes.get(Tenant) ?? 'default') !== tenant) throw err;
      return legacy;
    }
  }

  /** A policy's bandit state as its workflow sees it: arms, their rewards, counters, history length. */
  async getBanditState(policyId: string): Promise<BanditStateView> {
    return this.client.workflow.getHandle(banditWorkflowId(policyId)).query(banditViewQuery);
  }

  /**
   * A tenant's budget as its workflow holds it: per UTC day and month the cap, what was spent and what is reserved,
   * and the open reservations. A tenant that has not reserved anything yet has an empty one.
   */
  async getBudget(tenant: string): Promise<BudgetWorkflowView> {
    try {
      return await this.client.workflow.getHandle(budgetWorkflowId(tenant)).query(budgetViewQuery);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      const now = Date.now();
      return { ...budgetView(tenant, emptyLedger(now), now), historyLength: 0, continuedAsNew: 0 };
    }
  }

  /** Changes a bandit's settings or arms; a bad value is refused by the update's validator, naming the field. */
  async changeBandit(policyId: string, change: AdminChange): Promise<BanditSummary> {
    return this.client.workflow.getHandle(banditWorkflowId(policyId)).executeUpdate(banditAdminUpdate, { args: [change] });
  }

  /**
   * A user's late verdict (thumbs up 1, down 0, or any score in between) on a routed answer, fed into the policy's
   * bandit state. Counted once per requestId: returns false when feedback for it was already given.
   */
  async reportFeedback(requestId: string, score: number, tenant = 'default'): Promise<boolean> {
    if (!(typeof score === 'number' && score >= 0 && score <= 1)) throw new ValidationError('feedback', [{ path: 'score', message: `must be a number from 0 to 1, got ${JSON.stringify(score)}` }]);
    const log = await (await this.routeHandle(tenant, requestId)).result();
    const { context } = log.decision;
    if (!context) throw new ValidationError('feedback', [{ path: 'requestId', message: `request "${requestId}" was routed by ${log.strategy}, which does not learn from feedback` }]);
    try {
      await this.client.workflow.start<typeof banditFeedback>('banditFeedback', {
        args: [{ policyId: log.policyId, feedback: { requestId, arm: log.selectedModel, context, quality: score, previousQuality: log.qualityScore } }],
        taskQueue: this.taskQueue,
        workflowId: feedbackWorkflowId(tenant, requestId),
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        staticSummary: `feedback ${score} on request ${requestId} (policy ${log.policyId})`,
      });
      return true;
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
      throw err;
    }
  }
}
