import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  log,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { adminChangeProblem, applyAdminChange, foldFeedback, foldOutcome, summarizeBanditState } from '../routing/strategies/bandit/state';
import type { AdminChange, BanditFeedback, BanditOutcome, BanditState, BanditSummary } from '../routing/strategies/bandit/types';

/*
 * The bandit's reward state for one policy: an entity workflow (id bandit-<policyId>) that folds outcomes arriving as
 * signals into compact, versioned state, answers queries, and takes admin changes as validated updates. Its history is
 * bounded by continue-as-new, carrying the state (never raw outcomes) across. As samples-typescript's
 * message-passing/safe-message-handlers: wait for the suggestion, let every handler finish, then continue.
 */

export interface BanditStateInput {
  policyId: string;
  /** A new policy's fresh state, or the state carried across continue-as-new. */
  state: BanditState;
  /** Also continue-as-new once the history has this many events (tests); the server's suggestion always counts. */
  continueAsNewAtHistoryLength?: number;
  /**
   * And once this run has folded this many deliveries. A continue-as-new that loses its race with a new signal is
   * retried on a fresh replay of the run, so a short run (cheap to replay) is what lets it win under steady traffic.
   */
  continueAsNewAfterDeliveries?: number;
  /** How many runs came before this one. */
  continuedAsNew?: number;
}

export interface BanditStateView {
  policyId: string;
  summary: BanditSummary;
  historyLength: number;
  continuedAsNew: number;
}

/** One or more outcomes (a batch costs one history event); each requestId is counted once. */
export const banditOutcomesSignal = defineSignal<[BanditOutcome[]]>('banditOutcomes');
/** A user's late verdict on a routed answer; counted once per requestId. */
export const banditFeedbackSignal = defineSignal<[BanditFeedback]>('banditFeedback');
/** The whole state, for the route activity to decide with. */
export const banditStateQuery = defineQuery<BanditState>('banditState');
/** A readable summary with the workflow's own figures (history length, continue-as-new count). */
export const banditViewQuery = defineQuery<BanditStateView>('banditView');
/** Admin changes (exploration rate, λ, forgetting, reset an arm, add or retire a model); bad values are rejected. */
export const banditAdminUpdate = defineUpdate<BanditSummary, [AdminChange]>('banditAdmin');

/** Folding a run's deliveries again on a replay takes about 8 µs each: 2,000 keep a replay within ~20 ms. */
export const DEFAULT_DELIVERIES_PER_RUN = 2_000;

const deliveries = (state: BanditState) => state.counters.outcomes + state.counters.duplicates + state.counters.rejected + state.counters.feedback;

export async function banditState(input: BanditStateInput): Promise<never> {
  const { state } = input;
  const continuedAsNew = input.continuedAsNew ?? 0;

  setHandler(banditOutcomesSignal, (outcomes) => {
    for (const outcome of outcomes) foldOutcome(state, outcome);
  });
  setHandler(banditFeedbackSignal, (feedback) => {
    foldFeedback(state, feedback);
  });
  setHandler(banditStateQuery, () => state);
  setHandler(banditViewQuery, () => ({ policyId: input.policyId, summary: summarizeBanditState(state), historyLength: workflowInfo().historyLength, continuedAsNew }));
  setHandler(
    banditAdminUpdate,
    (change) => {
      applyAdminChange(state, change);
      log.info('bandit admin change', { policyId: input.policyId, change: change.kind });
      return summarizeBanditState(state);
    },
    {
      validator: (change) => {
        const problem = adminChangeProblem(state, change);
        if (problem) throw new Error(problem);
      },
    },
  );

  const limit = input.continueAsNewAtHistoryLength;
  const deliveriesAtStart = deliveries(state);
  const perRun = input.continueAsNewAfterDeliveries ?? DEFAULT_DELIVERIES_PER_RUN;
  await condition(
    () => workflowInfo().continueAsNewSuggested || (limit !== undefined && workflowInfo().historyLength >= limit) || deliveries(state) - deliveriesAtStart >= perRun,
  );
  // Signals delivered with the last activation are already folded (their handlers are synchronous); updates may not be.
  await condition(allHandlersFinished);
  return continueAsNew<typeof banditState>({ ...input, state, continuedAsNew: continuedAsNew + 1 });
}
