import type { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, RACED_HEARTBEAT_INTERVAL_MS, type ActivityDeps } from '../activities';
import { dataConverterFromEnv } from '../codec';
import { TASK_QUEUE } from '../domain/taskQueue';

export interface RouterWorkerOptions {
  connection: NativeConnection;
  /** For the bandit's state workflow (signal-with-start, queries); without it a bandit policy never learns. */
  client?: Client;
  namespace?: string;
  taskQueue?: string;
  deps: ActivityDeps;
  /** A prebuilt bundle (production), or the workflows' source path to bundle now (tests, dev). */
  workflows: { bundlePath: string } | { workflowsPath: string } | { bundle: WorkerOptions['workflowBundle'] };
  maxConcurrentActivityTaskExecutions?: number;
  /** Activities beside the router's own (the overhead benchmark's no-op floor). */
  extraActivities?: Record<string, () => Promise<void>>;
  /** How long a stopping worker (SIGTERM, shutdown()) lets running activities finish before cancelling them. */
  shutdownGraceTime?: number;
  /** Must match the clients' (payload encryption); from the environment when left out. */
  dataConverter?: DataConverter;
}

/**
 * Model calls are paid: a deploy that stopped them mid-call would pay for them twice. The worker stops polling at
 * once and gives running calls this long to finish.
 */
export const DEFAULT_SHUTDOWN_GRACE_MS = 30_000;
export const STICKY_SCHEDULE_TO_START_TIMEOUT = '3s';

export async function createRouterWorker(options: RouterWorkerOptions): Promise<Worker> {
  const { workflows } = options;
  const taskQueue = options.taskQueue ?? TASK_QUEUE;
  const deps = options.client ? { ...options.deps, temporal: { client: options.client, taskQueue } } : options.deps;
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    taskQueue,
    activities: { ...createActivities(deps), ...options.extraActivities },
    ...('bundlePath' in workflows
      ? { workflowBundle: { codePath: workflows.bundlePath } }
      : 'workflowsPath' in workflows
        ? { workflowsPath: workflows.workflowsPath }
        : { workflowBundle: workflows.bundle }),
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions ?? 50,
    // Core holds back heartbeats for up to 80 % of the heartbeat timeout (4 s); a raced call hears of its cancellation
    // only in a heartbeat's answer, so its beats go out as often as it sends them (other calls beat once a second).
    maxHeartbeatThrottleInterval: RACED_HEARTBEAT_INTERVAL_MS,
    shutdownGraceTime: options.shutdownGraceTime ?? DEFAULT_SHUTDOWN_GRACE_MS,
    // A run cached on a worker that died gets its next task on that worker's sticky queue, which nobody polls: it
    // waits this long before any worker may take it. A tenant's budget workflow is one such run for all its requests,
    // so the SDK's 10 s would stall every reservation of that tenant for 10 s after a worker dies. The price of a
    // shorter wait is a replay (another worker rebuilding the run from history) when a live worker is that slow.
    stickyQueueScheduleToStartTimeout: STICKY_SCHEDULE_TO_START_TIMEOUT,
    dataConverter: options.dataConverter ?? dataConverterFromEnv(),
  });
}
