import { proxyActivities } from '@temporalio/workflow';

/** The benchmark's floor: what Temporal alone costs for a workflow of one, or four, no-op activities. */
export interface FloorActivities {
  benchNoop(): Promise<void>;
}

const { benchNoop } = proxyActivities<FloorActivities>({ startToCloseTimeout: '10s', retry: { maximumAttempts: 3 } });

export async function benchFloor(activities: number): Promise<void> {
  for (let i = 0; i < activities; i++) await benchNoop();
}
