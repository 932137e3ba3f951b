import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { FailureType } from '../domain/failures';
import { banditWorkflowId } from '../domain/workflowIds';
import type { Rung } from '../routing/ladder';
import { strategyOf, type RoutingPolicy } from '../routing/strategies/registry';
import type { BanditFeedback, BanditOutcome, BanditState } from '../routing/strategies/bandit/types';
import { banditFeedbackSignal, banditOutcomesSignal, banditStateQuery, type banditState, type BanditStateInput } from '../workflows/banditState';

/** How the router's activities reach the Temporal service: the bandit's state lives in a workflow there. */
export interface TemporalAccess {
  client: Client;
  /** The task queue of the worker that runs the banditState workflows (the router's own). */
  taskQueue: string;
}

function learningOf(policy: RoutingPolicy) {
  const learning = strategyOf(policy).learning;
  if (!learning) throw ApplicationFailure.nonRetryable(`policy "${policy.id}" (${policy.strategy}) does not learn online`, FailureType.UnknownPolicy);
  return learning;
}

/** The state workflow's first input, for a policy whose state does not exist yet. */
export function banditStateInput(policy: RoutingPolicy, ladder: readonly Rung[]): BanditStateInput {
  const learning = learningOf(policy);
  const limit = learning.continueAsNewAtHistoryLength?.(policy as never);
  return { policyId: policy.id, state: learning.initialState(policy as never, ladder) as BanditState, ...(limit !== undefined ? { continueAsNewAtHistoryLength: limit } : {}) };
}

/**
 * Each worker reads a policy's bandit state from its workflow (a query) and reuses it for the policy's
 * stateCacheMs, so a burst of requests costs one query. Concurrent reads share one query. A policy whose state
 * workflow does not exist yet has no state: the strategy starts from its prior.
 */
export class BanditStateCache {
  private readonly entries = new Map<string, { at: number; state: Promise<BanditState | undefined> }>();

  constructor(
    private readonly client: Client,
    private readonly now: () => number = Date.now,
  ) {}

  read(policy: RoutingPolicy): Promise<BanditState | undefined> {
    const ttl = learningOf(policy).stateCacheMs(policy as never);
    const hit = this.entries.get(policy.id);
    if (hit && this.now() - hit.at < ttl) return hit.state;
    const state = this.client.workflow
      .getHandle<typeof banditState>(banditWorkflowId(policy.id))
      .query(banditStateQuery)
      .catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return undefined;
        this.entries.delete(policy.id);
        throw err;
      });
    this.entries.set(policy.id, { at: this.now(), state });
    return state;
  }
}

export interface BanditActivityDeps {
  temporal?: TemporalAccess;
  policies: ReadonlyMap<string, RoutingPolicy>;
  ladder: readonly Rung[];
}

export function createBanditActivities(deps: BanditActivityDeps) {
  function access(): TemporalAccess {
    if (!deps.temporal) throw ApplicationFailure.nonRetryable('this worker has no Temporal client for the bandit state', FailureType.UnknownPolicy);
    return deps.temporal;
  }
  function policy(policyId: string): RoutingPolicy {
    const found = deps.policies.get(policyId);
    if (!found) throw ApplicationFailure.nonRetryable(`policyId "${policyId}" is not configured`, FailureType.UnknownPolicy);
    return found;
  }
  /** Signal-with-start: the state workflow exists from the policy's first outcome on. */
  async function signal<T>(policyId: string, signalDef: typeof banditOutcomesSignal | typeof banditFeedbackSignal, args: T): Promise<void> {
    const { client, taskQueue } = access();
    await client.workflow.signalWithStart<typeof banditState, [T]>('banditState', {
      workflowId: banditWorkflowId(policyId),
      taskQueue,
      args: [banditStateInput(policy(policyId), deps.ladder)],
      signal: signalDef as never,
      signalArgs: [args],
      staticSummary: `bandit reward state of policy ${policyId}`,
    });
  }
  return {
    async reportBanditOutcome({ policyId, outcome }: { policyId: string; outcome: BanditOutcome }): Promise<void> {
      await signal(policyId, banditOutcomesSignal, [outcome]);
    },
    async deliverBanditFeedback({ policyId, feedback }: { policyId: string; feedback: BanditFeedback }): Promise<void> {
      await signal(policyId, banditFeedbackSignal, feedback);
    },
  };
}

export type BanditActivities = ReturnType<typeof createBanditActivities>;
