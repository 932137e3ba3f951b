import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BudgetRefusal,
  budgetView,
  emptyLedger,
  expire,
  nextExpiry,
  reserve,
  reserveProblem,
  SETTLED_RETENTION_MS,
  settle,
  type BudgetLedger,
} from '../src/budget/ledger';

const T0 = Date.parse('2026-12-03T10:00:00Z');
const CAPS = { dailyUsd: 1, monthlyUsd: 10 };
const TTL = 60_000;

function ledgerWith(...reservations: [string, number][]): BudgetLedger {
  const ledger = emptyLedger(T0);
  for (const [id, usd] of reservations) reserve(ledger, { id, usd, caps: CAPS, now: T0, ttlMs: TTL });
  return ledger;
}

describe('budget ledger', () => {
  it('refuses a reservation that would cross the daily cap, naming the cap and the figures', () => {
    const ledger = ledgerWith(['a', 0.4], ['b', 0.35]);
    settle(ledger, { id: 'a', actualUsd: 0.1, now: T0 }); // spent 0.10, reserved 0.35
    // 0.10 + 0.35 + 0.55 = 1.00: exactly the cap is allowed.
    reserve(ledger, { id: 'c', usd: 0.55, caps: CAPS, now: T0, ttlMs: TTL });
    assert.throws(
      () => reserve(ledger, { id: 'd', usd: 0.000001, caps: CAPS, now: T0, ttlMs: TTL }),
      (err: unknown) =>
        err instanceof BudgetRefusal &&
        err.cap === 'daily' &&
        err.message.includes('daily budget of $1.000000 for 2026-12-03') &&
        err.message.includes('spent $0.100000 + reserved $0.900000 + this call') &&
        err.message.includes('$0.000001'),
    );
    assert.equal(Object.keys(ledger.open).length, 2, 'the refused one reserved nothing');
  });

  it('refuses on the monthly cap once days have added up', () => {
    const ledger = emptyLedger(T0);
    const caps = { dailyUsd: 2, monthlyUsd: 10 };
    // Nine days of $1 each, then $0.95 on the tenth: $9.95 this month, well inside the $2 daily cap.
    for (let d = 0; d < 10; d++) {
      const now = T0 + d * 86_400_000;
      const spend = d < 9 ? 1 : 0.95;
      reserve(ledger, { id: `d${d}`, usd: spend, caps, now, ttlMs: TTL });
      settle(ledger, { id: `d${d}`, actualUsd: spend, now });
    }
    const now = T0 + 9 * 86_400_000;
    const problem = reserveProblem(ledger, { id: 'x', usd: 0.06, caps, now, ttlMs: TTL });
    assert.equal(problem?.cap, 'monthly');
    assert.match(problem!.message, /monthly budget of \$10\.000000 for 2026-12 would be crossed: spent \$9\.950000/);
    assert.equal(reserveProblem(ledger, { id: 'x', usd: 0.05, caps, now, ttlMs: TTL }), undefined);
  });

  it('settles the actual cost and releases the rest; a second settle does nothing', () => {
    const ledger = ledgerWith(['a', 0.5]);
    assert.deepEqual(settle(ledger, { id: 'a', actualUsd: 0.12, now: T0 + 1 }), { id: 'a', chargedUsd: 0.12, outcome: 'settled' });
    assert.deepEqual(settle(ledger, { id: 'a', actualUsd: 0.12, now: T0 + 2 }), { id: 'a', chargedUsd: 0, outcome: 'repeated' });
    const view = budgetView('t', ledger, T0 + 2);
    assert.equal(view.day.spentUsd, 0.12);
    assert.equal(view.day.reservedUsd, 0);
    assert.equal(view.month.spentUsd, 0.12);
  });

  it('a retried reserve of the same id reserves once', () => {
    const ledger = ledgerWith(['a', 0.3]);
    const again = reserve(ledger, { id: 'a', usd: 0.3, caps: CAPS, now: T0 + 5, ttlMs: TTL });
    assert.equal(again.repeated, true);
    assert.equal(budgetView('t', ledger, T0 + 5).day.reservedUsd, 0.3);
    // Even after it settled: still nothing new reserved, and a full ledger does not refuse it.
    settle(ledger, { id: 'a', actualUsd: 0.3, now: T0 + 6 });
    reserve(ledger, { id: 'b', usd: 0.7, caps: CAPS, now: T0 + 6, ttlMs: TTL });
    assert.equal(reserve(ledger, { id: 'a', usd: 0.3, caps: CAPS, now: T0 + 7, ttlMs: TTL }).repeated, true);
    assert.equal(budgetView('t', ledger, T0 + 7).day.reservedUsd, 0.7);
  });

  it('settling an unknown id charges its actual cost once', () => {
    const ledger = emptyLedger(T0);
    assert.equal(settle(ledger, { id: 'ghost', actualUsd: 0.07, now: T0 }).outcome, 'unknown');
    assert.equal(settle(ledger, { id: 'ghost', actualUsd: 0.07, now: T0 }).outcome, 'repeated');
    assert.equal(budgetView('t', ledger, T0).day.spentUsd, 0.07);
  });

  it('expires a reservation at its worst case; a late settle puts the actual cost in its place, once', () => {
    const ledger = ledgerWith(['a', 0.4], ['b', 0.2]);
    assert.equal(nextExpiry(ledger), T0 + TTL);
    assert.deepEqual(expire(ledger, T0 + TTL - 1), []);
    assert.deepEqual(expire(ledger, T0 + TTL).sort(), ['a', 'b']);
    let view = budgetView('t', ledger, T0 + TTL);
    assert.equal(view.day.spentUsd, 0.6);
    assert.equal(view.day.reservedUsd, 0);
    assert.equal(nextExpiry(ledger), undefined);
    // 'a' cost 0.05 after all: 0.6 - 0.4 + 0.05 = 0.25.
    assert.deepEqual(settle(ledger, { id: 'a', actualUsd: 0.05, now: T0 + TTL + 1 }), { id: 'a', chargedUsd: -0.35, outcome: 'late' });
    assert.equal(settle(ledger, { id: 'a', actualUsd: 0.05, now: T0 + TTL + 2 }).outcome, 'repeated');
    view = budgetView('t', ledger, T0 + TTL + 2);
    assert.equal(view.day.spentUsd, 0.25);
    assert.equal(ledger.counters.expired, 2);
    assert.equal(ledger.counters.lateSettles, 1);
  });

  it('a stale reservation stops blocking once expired: the sum is the same, so the validator and the handler agree', () => {
    const ledger = ledgerWith(['a', 0.9]);
    const later = T0 + TTL + 1;
    // 0.9 expired into spent: 0.9 + 0.2 > 1 either way.
    assert.equal(reserveProblem(ledger, { id: 'b', usd: 0.2, caps: CAPS, now: later, ttlMs: TTL })?.cap, 'daily');
    assert.throws(() => reserve(ledger, { id: 'b', usd: 0.2, caps: CAPS, now: later, ttlMs: TTL }), BudgetRefusal);
    assert.equal(ledger.counters.expired, 1, 'the handler expired it first');
    reserve(ledger, { id: 'c', usd: 0.1, caps: CAPS, now: later, ttlMs: TTL });
  });

  it('rolls over at the UTC day and month boundaries; open reservations carry over', () => {
    const lastMinute = Date.parse('2026-12-31T23:59:00Z');
    const ledger = emptyLedger(lastMinute);
    reserve(ledger, { id: 'spent', usd: 0.8, caps: CAPS, now: lastMinute, ttlMs: TTL });
    settle(ledger, { id: 'spent', actualUsd: 0.8, now: lastMinute });
    reserve(ledger, { id: 'open', usd: 0.15, caps: CAPS, now: lastMinute, ttlMs: 10 * TTL });
    assert.equal(reserveProblem(ledger, { id: 'x', usd: 0.1, caps: CAPS, now: lastMinute, ttlMs: TTL })?.cap, 'daily');
    const newYear = Date.parse('2027-01-01T00:00:30Z');
    // A new day and month: 0 spent, 0.15 still reserved; 0.15 + 0.85 = 1.00 fits.
    assert.equal(reserveProblem(ledger, { id: 'x', usd: 0.85, caps: CAPS, now: newYear, ttlMs: TTL }), undefined);
    settle(ledger, { id: 'open', actualUsd: 0.1, now: newYear });
    const view = budgetView('t', ledger, newYear);
    assert.deepEqual(view.day, { period: '2027-01-01', capUsd: 1, spentUsd: 0.1, reservedUsd: 0 });
    assert.deepEqual(view.month, { period: '2027-01', capUsd: 10, spentUsd: 0.1, reservedUsd: 0 });
  });

  it('forgets settled ids after their retention (a settle after that is charged as unknown)', () => {
    const ledger = ledgerWith(['a', 0.1]);
    settle(ledger, { id: 'a', actualUsd: 0.1, now: T0 });
    expire(ledger, T0 + SETTLED_RETENTION_MS + 1);
    assert.deepEqual(ledger.settled, {});
  });

  it('refuses input that breaks the contract, naming the field', () => {
    const ledger = emptyLedger(T0);
    assert.match(reserveProblem(ledger, { id: 'a', usd: -1, caps: CAPS, now: T0, ttlMs: TTL })!.message, /^usd: must be a finite number/);
    assert.match(reserveProblem(ledger, { id: 'a', usd: Number.NaN, caps: CAPS, now: T0, ttlMs: TTL })!.message, /^usd:/);
    assert.match(reserveProblem(ledger, { id: '', usd: 1, caps: CAPS, now: T0, ttlMs: TTL })!.message, /^reservation id:/);
    assert.match(reserveProblem(ledger, { id: 'a', usd: 1, caps: { dailyUsd: -2 }, now: T0, ttlMs: TTL })!.message, /^caps\.dailyUsd:/);
    assert.throws(() => settle(ledger, { id: 'a', actualUsd: -0.5, now: T0 }), /actualUsd: must be a finite number/);
  });

  it('keeps sums exact where floating point would drift: 50 reservations of $0.0002 fill a $0.01 cap exactly', () => {
    const ledger = emptyLedger(T0);
    const caps = { dailyUsd: 0.01 };
    for (let i = 0; i < 50; i++) reserve(ledger, { id: `r${i}`, usd: 0.0002, caps, now: T0, ttlMs: TTL });
    assert.ok(reserveProblem(ledger, { id: 'r50', usd: 0.0002, caps, now: T0, ttlMs: TTL }));
    assert.equal(budgetView('t', ledger, T0).day.reservedUsd, 0.01);
  });
});
