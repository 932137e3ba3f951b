import { Client, WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { RouteRequestSchema, type RouteRequest, type RouteRequestInput } from '../domain/request';
import type { DecisionLog } from '../domain/results';
import { parseOrThrow } from '../domain/validation';
import { TASK_QUEUE } from '../domain/taskQueue';
import type { ContentStore } from '../claimCheck/contentStore';
import { checkIn } from '../claimCheck/request';
import { banditWorkflowId, feedbackWorkflowId, routeWorkflowId } from '../domain/workflowIds';
import { ValidationError } from '../domain/validation';
import type { AdminChange, BanditSummary } from '../routing/strategies/bandit/types';
import type { banditFeedback, routeRequest } from '../workflows';
import { banditAdminUpdate, banditViewQuery, type BanditStateView } from '../workflows/banditState';

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
}

/** The backend's entry point: one durable routing workflow per requestId. */
export class RouterClient {
  private readonly client: Client;
  private readonly taskQueue: string;
  private readonly contentStore: ContentStore | undefined;

  constructor(options: RouterClientOptions) {
    this.client = options.client;
    this.taskQueue = options.taskQueue ?? TASK_QUEUE;
    this.contentStore = options.contentStore;
  }

  /**
   * Starts routing, or — when this requestId is running or has completed — returns the handle of the run that has
   * it, so a retried request never pays for a second model call.
   */
  async startRoute(input: RouteRequestInput): Promise<WorkflowHandle<typeof routeRequest>> {
    const validated = validateRouteRequest(input);
    const request = await checkIn(validated, this.contentStore);
    const workflowId = routeWorkflowId(request.requestId);
    try {
      return await this.client.workflow.start<typeof routeRequest>('routeRequest', {
        args: [request],
        taskQueue: this.taskQueue,
        workflowId,
        // A running duplicate joins the running workflow; a completed one is rejected and we read its result;
        // one that failed (all models down, terminated) may run again, so the caller can retry it.
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
        staticSummary: `route ${request.taskType} request ${request.requestId} (${request.domain}, policy ${request.policyId})`,
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return this.client.workflow.getHandle<typeof routeRequest>(workflowId);
      throw err;
    }
  }

  /** Starts (or joins) the request's workflow and waits for its decision log. */
  async route(input: RouteRequestInput): Promise<DecisionLog> {
    const handle = await this.startRoute(input);
    return handle.result();
  }

  /** A policy's bandit state as its workflow sees it: arms, their rewards, counters, history length. */
  async getBanditState(policyId: string): Promise<BanditStateView> {
    return this.client.workflow.getHandle(banditWorkflowId(policyId)).query(banditViewQuery);
  }

  /** Changes a bandit's settings or arms; a bad value is refused by the update's validator, naming the field. */
  async changeBandit(policyId: string, change: AdminChange): Promise<BanditSummary> {
    return this.client.workflow.getHandle(banditWorkflowId(policyId)).executeUpdate(banditAdminUpdate, { args: [change] });
  }

  /**
   * A user's late verdict (thumbs up 1, down 0, or any score in between) on a routed answer, fed into the policy's
   * bandit state. Counted once per requestId: returns false when feedback for it was already given.
   */
  async reportFeedback(requestId: string, score: number): Promise<boolean> {
    if (!(typeof score === 'number' && score >= 0 && score <= 1)) throw new ValidationError('feedback', [{ path: 'score', message: `must be a number from 0 to 1, got ${JSON.stringify(score)}` }]);
    const log = await this.client.workflow.getHandle<typeof routeRequest>(routeWorkflowId(requestId)).result();
    const { context } = log.decision;
    if (!context) throw new ValidationError('feedback', [{ path: 'requestId', message: `request "${requestId}" was routed by ${log.strategy}, which does not learn from feedback` }]);
    try {
      await this.client.workflow.start<typeof banditFeedback>('banditFeedback', {
        args: [{ policyId: log.policyId, feedback: { requestId, arm: log.selectedModel, context, quality: score, previousQuality: log.qualityScore } }],
        taskQueue: this.taskQueue,
        workflowId: feedbackWorkflowId(requestId),
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
