import { ApplicationFailure } from '@temporalio/activity';
import { WithStartWorkflowOperation, WorkflowUpdateFailedError } from '@temporalio/client';
import { BudgetRefusal, checkSettle, type BudgetCaps } from '../budget/ledger';
import { DEFAULT_BUDGETED_MAX_OUTPUT_TOKENS } from '../budget/reservations';
import { worstCaseUsd } from '../budget/worstCase';
import type { ModelSpec } from '../domain/catalog';
import { FailureType } from '../domain/failures';
import type { RouteRequest, RouteRequestInput } from '../domain/request';
import type { ModelResult } from '../domain/results';
import { budgetWorkflowId } from '../domain/workflowIds';
import type { QualityGate } from '../evaluators/gate';
import type { ModelProvider } from '../providers/types';
import { reserveUpdate, settleSignal, type budget, type ReserveRequest, type SettleRequest } from '../workflows/budget';
import type { TemporalAccess } from './bandit';
import { withHeartbeat } from './billing';

/** The call a reservation is for: a model call (its own request) or the paid judge grading an answer. */
export type BudgetedCall = { kind: 'model'; modelId: string; request: RouteRequestInput } | { kind: 'judge'; request: RouteRequest; result: ModelResult };

export interface ReserveBudgetInput {
  tenant: string;
  caps: BudgetCaps;
  reservationId: string;
  ttlMs: number;
  call: BudgetedCall;
}

export type BudgetReservation =
  | {
      accepted: true;
      reservedUsd: number;
      /** The input tokens were estimated (characters ÷ 4), not counted by the model's tokenizer. */
      estimated: boolean;
      /** Nothing to reserve (a judge that bills nothing): the budget was not asked, and needs no settle. */
      skipped?: true;
    }
  | { accepted: false; reason: string };

export interface SettleBudgetInput {
  tenant: string;
  reservationId: string;
  actualUsd: number;
}

export interface BudgetActivityDeps {
  temporal?: TemporalAccess;
  modelSpec(id: string): ModelSpec;
  providers: Readonly<Record<string, ModelProvider>>;
  gate: QualityGate;
  /** Parses the request again and puts a claim-checked prompt back in place. */
  validRequest(request: unknown): Promise<RouteRequest>;
}

/**
 * The server takes at most 10 updates in flight per workflow (history.maxInFlightUpdates) and refuses the rest with
 * RESOURCE_EXHAUSTED, which the client retries with back-off. Queueing a tenant's updates here, a few at a time,
 * keeps one worker under that limit instead of backing off (200 at once: see the budget test's log line).
 */
export const UPDATES_IN_FLIGHT_PER_TENANT = 8;

/**
 * A budget update heartbeats while it waits (in the queue below, or for the budget workflow): a worker that dies
 * meanwhile is noticed within the heartbeat timeout and the update retried on another (the same update id, so it
 * counts once), instead of every request it held waiting out the whole start-to-close timeout.
 */
const BUDGET_HEARTBEAT_INTERVAL_MS = 1_000;

const BUDGET_SUMMARY = (tenant: string) => `budget of tenant ${tenant}: spend per day and month, open reservations`;

/** Runs at most `limit` tasks at once per key, the rest in arrival order. */
export class KeyedLimiter {
  private readonly queues = new Map<string, { running: number; waiting: (() => void)[] }>();

  constructor(private readonly limit: number) {}

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    let queue = this.queues.get(key);
    if (!queue) this.queues.set(key, (queue = { running: 0, waiting: [] }));
    if (queue.running >= this.limit) await new Promise<void>((resolve) => queue.waiting.push(resolve));
    queue.running += 1;
    try {
      return await task();
    } finally {
      queue.running -= 1;
      const next = queue.waiting.shift();
      if (next) next();
      else if (queue.running === 0) this.queues.delete(key);
    }
  }
}

export function createBudgetActivities(deps: BudgetActivityDeps) {
  const limiter = new KeyedLimiter(UPDATES_IN_FLIGHT_PER_TENANT);
  function access(): TemporalAccess {
    if (!deps.temporal) throw ApplicationFailure.nonRetryable('this worker has no Temporal client for tenant budgets', FailureType.InvalidRequest);
    return deps.temporal;
  }

  /** Update-with-start: a tenant's first reservation creates its budget; later ones join the running workflow. */
  function startOperation(tenant: string): WithStartWorkflowOperation<typeof budget> {
    return new WithStartWorkflowOperation<typeof budget>('budget', {
      workflowId: budgetWorkflowId(tenant),
      taskQueue: access().taskQueue,
      args: [{ tenant }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      staticSummary: BUDGET_SUMMARY(tenant),
    });
  }

  async function worstCase(call: BudgetedCall): Promise<{ usd: number; estimated: boolean; label: string }> {
    const request = await deps.validRequest(call.request);
    if (call.kind === 'judge') return { usd: deps.gate.paidCallCeilingUsd(request, call.result), estimated: true, label: `judge of ${call.result.model}` };
    const model = deps.modelSpec(call.modelId);
    const providerCap = deps.providers[model.provider]?.maxOutputTokens ?? Infinity;
    const maxOutputTokens = Math.min(request.maxOutputTokens ?? DEFAULT_BUDGETED_MAX_OUTPUT_TOKENS, providerCap);
    const worst = worstCaseUsd(model, [...request.history, { content: request.prompt }], maxOutputTokens);
    return { usd: worst.usd, estimated: worst.estimated, label: model.id };
  }

  return {
    /**
     * Reserves one call's worst case in the tenant's budget. A refusal is a result, not a failure: the workflow
     * decides what it means (no request, or no further escalation). Retried safely: the reservation id is the
     * update id, and the ledger finds a reservation it already holds.
     */
    async reserveBudget(input: ReserveBudgetInput): Promise<BudgetReservation> {
      const worst = await worstCase(input.call);
      if (worst.usd === 0) return { accepted: true, reservedUsd: 0, estimated: worst.estimated, skipped: true };
      const request: ReserveRequest = { id: input.reservationId, usd: worst.usd, caps: input.caps, ttlMs: input.ttlMs, label: worst.label, ...(worst.estimated && { estimated: true }) };
      try {
        const reservation = await withHeartbeat(BUDGET_HEARTBEAT_INTERVAL_MS, 0, () =>
          limiter.run(input.tenant, () =>
            access().client.workflow.executeUpdateWithStart(reserveUpdate, {
              args: [request],
              updateId: `reserve/${input.reservationId}`,
              startWorkflowOperation: startOperation(input.tenant),
            }),
          ),
        );
        return { accepted: true, reservedUsd: reservation.reservedUsd, estimated: worst.estimated };
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === FailureType.InsufficientQuota) {
          return { accepted: false, reason: err.cause.message };
        }
        throw err;
      }
    },

    /**
     * Charges what the call cost and releases the rest of its reservation; a repeated settle changes nothing (the
     * ledger remembers settled ids). Sent as a signal: durable once the server has it, and it takes no update slot,
     * so a tenant's settles never wait behind its reservations. Done once the server has recorded it.
     */
    async settleBudget(input: SettleBudgetInput): Promise<void> {
      const request = { id: input.reservationId, actualUsd: input.actualUsd };
      try {
        checkSettle({ ...request, now: Date.now() });
      } catch (err) {
        if (err instanceof BudgetRefusal) throw ApplicationFailure.nonRetryable(err.message, FailureType.ValidationError);
        throw err;
      }
      const { client, taskQueue } = access();
      await withHeartbeat(BUDGET_HEARTBEAT_INTERVAL_MS, 0, () =>
        client.workflow.signalWithStart<typeof budget, [SettleRequest]>('budget', {
          workflowId: budgetWorkflowId(input.tenant),
          taskQueue,
          args: [{ tenant: input.tenant }],
          signal: settleSignal,
          signalArgs: [request],
          staticSummary: BUDGET_SUMMARY(input.tenant),
        }),
      );
    },
  };
}

export type BudgetActivities = ReturnType<typeof createBudgetActivities>;
