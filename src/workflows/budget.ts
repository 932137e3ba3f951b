import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  log,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import {
  BudgetRefusal,
  budgetView,
  checkSettle,
  emptyLedger,
  expire,
  nextExpiry,
  reserve,
  reserveProblem,
  settle,
  type BudgetCaps,
  type BudgetLedger,
  type BudgetView,
  type Reservation,
  type Settlement,
} from '../budget/ledger';
import { FailureType } from '../domain/failures';

/*
 * One tenant's budget (id budget-<tenant>): an entity workflow holding the ledger. Request workflows reserve a
 * call's worst case through an update whose validator refuses what would cross a cap, so a refused reservation
 * never enters history as accepted; they settle the actual cost after the call. Reservations never settled are
 * charged at their worst case when their TTL passes (a timer). The history is bounded by continue-as-new carrying
 * the ledger, as banditState does (samples-typescript message-passing/safe-message-handlers).
 */

export interface BudgetInput {
  tenant: string;
  /** The ledger carried across continue-as-new; a new tenant's starts empty. */
  ledger?: BudgetLedger;
  /** Also continue-as-new once the history has this many events (tests); the server's suggestion always counts. */
  continueAsNewAtHistoryLength?: number;
  /** And once this run has handled this many updates and settle signals (default DEFAULT_UPDATES_PER_RUN). */
  continueAsNewAfterUpdates?: number;
  /** How many runs came before this one. */
  continuedAsNew?: number;
}

export interface ReserveRequest {
  id: string;
  usd: number;
  caps: BudgetCaps;
  ttlMs: number;
  estimated?: boolean;
  label?: string;
}

export interface SettleRequest {
  id: string;
  actualUsd: number;
}

export interface BudgetWorkflowView extends BudgetView {
  historyLength: number;
  continuedAsNew: number;
}

/** Reserves a call's worst case; refused (validator) with type InsufficientQuota when it would cross a cap. */
export const reserveUpdate = defineUpdate<Reservation, [ReserveRequest]>('reserve');
/** Charges a call's actual cost and releases the rest of its reservation; idempotent per reservation id. */
export const settleUpdate = defineUpdate<Settlement, [SettleRequest]>('settle');
/** The same as a signal (what request workflows send): no reply, no in-flight update slot; idempotent per id. */
export const settleSignal = defineSignal<[SettleRequest]>('settleCost');
export const budgetViewQuery = defineQuery<BudgetWorkflowView>('budgetView');
/** The ledger itself, for tests that compare it across continue-as-new. */
export const budgetLedgerQuery = defineQuery<BudgetLedger>('budgetLedger');

/**
 * The server refuses more than 2,000 updates in one run (history.maxTotalUpdates), and every reserve and settle is
 * one: a run continues as new well before that.
 */
export const DEFAULT_UPDATES_PER_RUN = 1_000;

function refusal(err: BudgetRefusal): ApplicationFailure {
  return ApplicationFailure.nonRetryable(err.message, err.cap ? FailureType.InsufficientQuota : FailureType.ValidationError, ...(err.cap ? [{ cap: err.cap }] : []));
}

export async function budget(input: BudgetInput): Promise<never> {
  const ledger = input.ledger ?? emptyLedger(Date.now());
  const continuedAsNew = input.continuedAsNew ?? 0;
  let updates = 0;

  // Both handlers are synchronous: each update is validated and applied before the next one is looked at, so
  // concurrent reservations are checked one after another against the ledger as the previous one left it.
  setHandler(
    reserveUpdate,
    (request) => {
      updates += 1;
      try {
        return reserve(ledger, { ...request, now: Date.now() });
      } catch (err) {
        // The validator refused this already; only a replay of a changed rule could get here.
        if (err instanceof BudgetRefusal) throw refusal(err);
        throw err;
      }
    },
    {
      validator: (request) => {
        const problem = reserveProblem(ledger, { ...request, now: Date.now() });
        if (problem) throw refusal(problem);
      },
    },
  );
  /** Both ways a settle arrives (the update tests and older workers send, the signal settleBudget sends). */
  const applySettle = (request: SettleRequest): Settlement => {
    updates += 1;
    const settled = settle(ledger, { ...request, now: Date.now() });
    if (settled.outcome === 'late') log.warn('budget settle of an expired reservation: its actual cost replaces the worst case', { tenant: input.tenant, ...settled });
    return settled;
  };
  setHandler(
    settleUpdate,
    applySettle,
    {
      validator: (request) => {
        try {
          checkSettle({ ...request, now: Date.now() });
        } catch (err) {
          if (err instanceof BudgetRefusal) throw refusal(err);
          throw err;
        }
      },
    },
  );
  // What settleBudget sends: a signal, which needs no reply and no in-flight slot, so settles never queue behind
  // reservations. A bad one cannot be refused back to its sender (the activity checks it before sending): logged, dropped.
  setHandler(settleSignal, (request) => {
    try {
      applySettle(request);
    } catch (err) {
      if (!(err instanceof BudgetRefusal)) throw err;
      log.error('budget settle signal dropped: it breaks the contract', { tenant: input.tenant, id: request.id, error: err.message });
    }
  });
  setHandler(budgetViewQuery, () => ({ ...budgetView(input.tenant, ledger, Date.now()), historyLength: workflowInfo().historyLength, continuedAsNew }));
  setHandler(budgetLedgerQuery, () => ledger);

  const limit = input.continueAsNewAtHistoryLength;
  const perRun = input.continueAsNewAfterUpdates ?? DEFAULT_UPDATES_PER_RUN;
  const shouldContinue = () => workflowInfo().continueAsNewSuggested || (limit !== undefined && workflowInfo().historyLength >= limit) || updates >= perRun;
  while (!shouldContinue()) {
    // A timer started while an update's response is still on its way can land between that update's accepted and
    // completed events live, and after them on replay: a nondeterminism error (seen under 200 concurrent updates;
    // sdk-typescript issue 1966 is alike). Waiting for the handlers first puts the timer after them both times.
    await condition(allHandlersFinished);
    const target = nextExpiry(ledger);
    if (target === undefined) {
      await condition(() => shouldContinue() || nextExpiry(ledger) !== undefined);
      continue;
    }
    const waitMs = target - Date.now();
    // One timer for the earliest expiry; a reservation that expires sooner than it (a shorter TTL) re-arms it.
    if (waitMs > 0) await condition(() => shouldContinue() || (nextExpiry(ledger) ?? Infinity) < target, waitMs);
    const expired = expire(ledger, Date.now());
    if (expired.length > 0) log.warn('budget reservations expired unsettled, charged at their worst case', { tenant: input.tenant, ids: expired });
  }
  // The handlers are synchronous, but follow the safe shape: nothing in flight is cut off by the new run.
  await condition(allHandlersFinished);
  return continueAsNew<typeof budget>({ ...input, ledger, continuedAsNew: continuedAsNew + 1 });
}
