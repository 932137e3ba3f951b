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

/**
 * Outcomes bound for the same state workflow, gathered for a few milliseconds and sent as one signal: one history
 * event and one server round trip for many requests, which is what lets one policy's state keep up with many
 * workers. Each caller's promise settles with the signal that carried its outcome, so a failed signal fails (and
 * retries) every activity in the batch, and the state's dedup absorbs whatever was delivered twice.
 */
export class OutcomeBatcher {
  private readonly pending = new Map<string, { outcomes: BanditOutcome[]; waiters: { resolve: () => void; reject: (err: unknown) => void }[]; timer: NodeJS.Timeout }>();

  constructor(
    private readonly deliver: (policyId: string, outcomes: BanditOutcome[]) => Promise<void>,
    private readonly options: { lingerMs: number; maxBatch: number } = { lingerMs: 10, maxBatch: 200 },
  ) {}

  send(policyId: string, outcome: BanditOutcome): Promise<void> {
    return new Promise((resolve, reject) => {
      let batch = this.pending.get(policyId);
      if (!batch) {
        batch = { outcomes: [], waiters: [], timer: setTimeout(() => this.flush(policyId), this.options.lingerMs) };
        this.pending.set(policyId, batch);
      }
      batch.outcomes.push(outcome);
      batch.waiters.push({ resolve, reject });
      if (batch.outcomes.length >= this.options.maxBatch) this.flush(policyId);
    });
  }

  private flush(policyId: string): void {
    const batch = this.pending.get(policyId);
    if (!batch) return;
    this.pending.delete(policyId);
    clearTimeout(batch.timer);
    this.deliver(policyId, batch.outcomes).then(
      () => batch.waiters.forEach((w) => w.resolve()),
      (err: unknown) => batch.waiters.forEach((w) => w.reject(err)),
    );
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
  const batcher = new OutcomeBatcher((policyId, outcomes) => signal(policyId, banditOutcomesSignal, outcomes));
  return {
    async reportBanditOutcome({ policyId, outcome }: { policyId: string; outcome: BanditOutcome }): Promise<void> {
      await batcher.send(policyId, outcome);
    },
    async deliverBanditFeedback({ policyId, feedback }: { policyId: string; feedback: BanditFeedback }): Promise<void> {
      await signal(policyId, banditFeedbackSignal, feedback);
    },
  };
}

export type BanditActivities = ReturnType<typeof createBanditActivities>;
