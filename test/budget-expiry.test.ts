import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { budgetWorkflowId } from '../src/domain/workflowIds';
import { budgetLedgerQuery, budgetViewQuery, reserveUpdate, settleUpdate, type budget } from '../src/workflows/budget';
import { timeSkippingEnv, workflowBundle } from './helpers/temporal';

/**
 * A request that reserved and never settled (its run terminated between the two): the budget's timer charges the
 * reservation at its worst case when its TTL passes, and a settle that arrives after that puts the actual cost in its
 * place, once. The time-skipping server lets the TTL pass without waiting for it.
 */
describe('budget reservations that are never settled', () => {
  let env: TestWorkflowEnvironment;

  before(async () => {
    [env] = await Promise.all([timeSkippingEnv(), workflowBundle()]);
  });
  after(async () => {
    await env?.teardown();
  });

  it('expire at their worst case when their TTL passes; a late settle is charged once', { timeout: 120_000 }, async () => {
    const taskQueue = 'budget-expiry';
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle() });
    const caps = { dailyUsd: 1 };
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start<typeof budget>('budget', { workflowId: budgetWorkflowId('lost'), taskQueue, args: [{ tenant: 'lost' }] });
      // Two requests reserve $0.30 and $0.20 for 20 minutes; only the second settles ($0.05).
      await handle.executeUpdate(reserveUpdate, { args: [{ id: 'lost/a', usd: 0.3, caps, ttlMs: 20 * 60_000 }] });
      await handle.executeUpdate(reserveUpdate, { args: [{ id: 'lost/b', usd: 0.2, caps, ttlMs: 20 * 60_000 }] });
      await handle.executeUpdate(settleUpdate, { args: [{ id: 'lost/b', actualUsd: 0.05 }] });
      let view = await handle.query(budgetViewQuery);
      assert.deepEqual([view.day.spentUsd, view.day.reservedUsd], [0.05, 0.3]);

      await env.sleep('21 minutes');
      view = await handle.query(budgetViewQuery);
      // $0.05 + $0.30 charged at its worst case, nothing left reserved.
      assert.deepEqual([view.day.spentUsd, view.day.reservedUsd, view.reservations.length], [0.35, 0, 0]);
      assert.equal(view.counters.expired, 1);

      // The lost request's settle turns up after all: its actual $0.10 replaces the $0.30, and only once.
      assert.deepEqual(await handle.executeUpdate(settleUpdate, { args: [{ id: 'lost/a', actualUsd: 0.1 }] }), { id: 'lost/a', chargedUsd: -0.2, outcome: 'late' });
      assert.equal((await handle.executeUpdate(settleUpdate, { args: [{ id: 'lost/a', actualUsd: 0.1 }], updateId: 'second' })).outcome, 'repeated');
      view = await handle.query(budgetViewQuery);
      assert.equal(view.day.spentUsd, 0.15);
      const ledger = await handle.query(budgetLedgerQuery);
      assert.deepEqual(ledger.counters, { reserved: 2, settled: 2, expired: 1, lateSettles: 1, unknownSettles: 0 });
    });
  });
});
