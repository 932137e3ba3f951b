import { proxyActivities } from '@temporalio/workflow';
import type { BanditActivities } from '../activities/bandit';
import type { BanditFeedback } from '../routing/strategies/bandit/types';

const { deliverBanditFeedback } = proxyActivities<BanditActivities>({
  startToCloseTimeout: '10s',
  scheduleToCloseTimeout: '1h',
  retry: { initialInterval: '1s', maximumInterval: '1m' },
  summary: 'feedback: signal the bandit state (signal-with-start)',
});

/**
 * A user's verdict on one routed answer, delivered to its policy's bandit state. Its workflow id is
 * bandit-feedback-<tenant>-<requestId> and may not be reused, so Temporal itself keeps a request's feedback to one, for as
 * long as the namespace retains the run; the state's own dedup window catches a signal delivered twice.
 */
export async function banditFeedback(input: { policyId: string; feedback: BanditFeedback }): Promise<void> {
  await deliverBanditFeedback(input);
}
