import { Client, WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { RouteRequestSchema, type RouteRequest, type RouteRequestInput } from '../domain/request';
import type { DecisionLog } from '../domain/results';
import { parseOrThrow } from '../domain/validation';
import { TASK_QUEUE } from '../domain/taskQueue';
import type { routeRequest } from '../workflows';

export function routeWorkflowId(requestId: string): string {
  return `route-${requestId}`;
}

/** Throws a ValidationError naming every bad field; nothing is started for a bad request. */
export function validateRouteRequest(input: unknown): RouteRequest {
  return parseOrThrow(RouteRequestSchema, input, 'RouteRequest');
}

export interface RouterClientOptions {
  client: Client;
  taskQueue?: string;
}

/** The backend's entry point: one durable routing workflow per requestId. */
export class RouterClient {
  private readonly client: Client;
  private readonly taskQueue: string;

  constructor(options: RouterClientOptions) {
    this.client = options.client;
    this.taskQueue = options.taskQueue ?? TASK_QUEUE;
  }

  /**
   * Starts routing, or — when this requestId is running or has completed — returns the handle of the run that has
   * it, so a retried request never pays for a second model call.
   */
  async startRoute(input: RouteRequestInput): Promise<WorkflowHandle<typeof routeRequest>> {
    const request = validateRouteRequest(input);
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
}
