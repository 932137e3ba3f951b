import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RouteFailedError } from '../src/client/errors';
import { answerPieces, routerHeaders } from '../src/gateway/chatResponse';
import { gatewayErrorOf } from '../src/gateway/errors';
import { decisionLogFor } from './helpers/decisionLogs';

describe('gateway response headers and stream pieces', () => {
  it('x-router-decision spells the reason\'s signs in ASCII and stays within 200 printable characters', () => {
    const base = decisionLogFor('r1');
    const log = { ...base, decision: { ...base.decision, reason: `linear-thompson: gpt-4o-mini predicted reward 0.52 ± 0.10 → ≥ 0.9 × cost ${'é'.repeat(3)} ${'x'.repeat(300)}` } };
    const header = routerHeaders(log)['x-router-decision']!;
    assert.ok(header.includes('0.52 +/- 0.10 -> >= 0.9 x cost'), header);
    assert.match(header, /^[\x20-\x7e]+$/);
    assert.equal(header.length, 200);
    assert.ok(header.endsWith('...'));
  });

  it('answer pieces joined are exactly the answer', () => {
    for (const text of ['', 'one', '  leading and trailing  ', 'a b c d e f g h i', 'line\nbreaks\n\nand\ttabs']) {
      assert.equal(answerPieces(text).join(''), text);
    }
    assert.deepEqual(answerPieces('a b c d e f', 4), ['a b c d ', 'e f']);
  });

  it('a failed request tells the openai client not to retry when a retry would pay again; an unreachable budget may be retried', () => {
    const cases = [
      ['AllModelsFailed', 502, 'all_models_failed', 'false'],
      ['InsufficientQuota', 429, 'insufficient_quota', 'false'],
      ['BudgetUnavailable', 503, 'budget_unavailable', undefined],
    ] as const;
    for (const [type, status, code, shouldRetry] of cases) {
      const error = gatewayErrorOf(new RouteFailedError(`failed: ${type}`, type, 'route-acme-r1'), 0);
      assert.equal(error.status, status, type);
      assert.equal(error.body().error.code, code, type);
      assert.equal(error.headers['x-should-retry'], shouldRetry, type);
    }
  });
});
