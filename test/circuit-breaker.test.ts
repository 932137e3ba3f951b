import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { ModelSpec } from '../src/domain/catalog';
import { CircuitBreakingProvider } from '../src/providers/breakerProvider';
import { CircuitBreaker } from '../src/providers/circuitBreaker';
import { OpenAICompatibleProvider } from '../src/providers/openai';
import { ProviderError, type CompletionRequest } from '../src/providers/types';
import { testCatalog } from './helpers/catalog';
import { chatCompletion, startOpenAIServer, type OpenAIServer } from './helpers/openaiServer';

const OPTIONS = { failureThreshold: 3, windowMs: 10_000, coolDownMs: 30_000 };

/** A breaker on a clock the test moves by hand. */
function breakerAt(start = 0) {
  const clock = { now: start };
  return { breaker: new CircuitBreaker(OPTIONS, () => clock.now), clock };
}

/** Admits one call and records its outcome; returns whether it was admitted. */
function call(breaker: CircuitBreaker, health: 'up' | 'down' | 'unknown'): boolean {
  const admission = breaker.admit();
  if (admission.admitted) breaker.record(admission, health);
  return admission.admitted;
}

describe('circuit breaker', () => {
  it('opens after N consecutive failures and refuses calls until the cool-down has passed', () => {
    const { breaker, clock } = breakerAt();
    assert.ok(call(breaker, 'down'));
    assert.ok(call(breaker, 'down'));
    assert.equal(breaker.state, 'closed');
    assert.ok(call(breaker, 'down'));
    assert.equal(breaker.state, 'open');
    clock.now += 29_999;
    const refused = breaker.admit();
    assert.equal(refused.admitted, false);
    assert.match(!refused.admitted ? refused.reason : '', /open after 3 consecutive failures, next probe in 1 s/);
  });

  it('counts only consecutive failures within the window', () => {
    const { breaker, clock } = breakerAt();
    call(breaker, 'down');
    call(breaker, 'down');
    call(breaker, 'up');
    call(breaker, 'down');
    call(breaker, 'down');
    assert.equal(breaker.state, 'closed', 'a success in between starts the count again');
    clock.now += 10_001;
    call(breaker, 'down');
    assert.equal(breaker.state, 'closed', 'failures further apart than the window do not add up');
    call(breaker, 'unknown');
    call(breaker, 'down');
    call(breaker, 'down');
    assert.equal(breaker.state, 'open', 'a cancelled call neither counts nor resets');
  });

  it('lets exactly one probe through after the cool-down; its answer closes the circuit, its failure reopens it', () => {
    const { breaker, clock } = breakerAt();
    for (let i = 0; i < 3; i++) call(breaker, 'down');
    clock.now += 30_000;
    const probe = breaker.admit();
    assert.deepEqual(probe, { admitted: true, probe: true });
    assert.equal(breaker.state, 'half-open');
    assert.equal(breaker.admit().admitted, false, 'a second call waits for the probe');
    breaker.record(probe, 'down');
    assert.equal(breaker.state, 'open');
    assert.equal(breaker.admit().admitted, false, 'a failed probe starts a new cool-down');

    clock.now += 30_000;
    const cancelled = breaker.admit();
    breaker.record(cancelled as { probe: boolean }, 'unknown');
    assert.equal(breaker.state, 'half-open', 'a cancelled probe leaves the circuit half-open');
    assert.ok(call(breaker, 'up'));
    assert.equal(breaker.state, 'closed');
    call(breaker, 'down');
    call(breaker, 'down');
    assert.equal(breaker.state, 'closed', 'the failure count started again');
  });

  it('ignores the outcome of calls admitted before the circuit opened', () => {
    const { breaker } = breakerAt();
    const slow = breaker.admit() as { probe: boolean };
    for (let i = 0; i < 3; i++) call(breaker, 'down');
    breaker.record(slow, 'up');
    assert.equal(breaker.state, 'open');
  });

  it('rejects settings that would never open or never close', () => {
    assert.throws(() => new CircuitBreaker({ ...OPTIONS, failureThreshold: 0 }), /failureThreshold/);
    assert.throws(() => new CircuitBreaker({ ...OPTIONS, coolDownMs: 0 }), /coolDownMs/);
  });
});

describe('CircuitBreakingProvider', () => {
  let server: OpenAIServer | undefined;
  after(() => server?.close());
  const [small, medium] = testCatalog('openai').models as [ModelSpec, ModelSpec, ModelSpec];
  const request = (model: ModelSpec): CompletionRequest => ({
    requestId: 'r-1',
    attempt: 1,
    model,
    prompt: 'Hi',
    history: [],
    taskType: 'qa',
    domain: 'general',
    expectedOutputTokens: 10,
  });

  it('fails fast without calling a model whose circuit is open, keeps other models open, and probes after the cool-down', async () => {
    let smallIsDown = true;
    server = await startOpenAIServer((body) =>
      body.model === 'small-model' && smallIsDown ? { status: 503, json: { error: { message: 'overloaded' } } } : { json: chatCompletion(body.model, 'ok') },
    );
    const clock = { now: 0 };
    const provider = new CircuitBreakingProvider(new OpenAICompatibleProvider({ baseUrl: server.baseUrl }), OPTIONS, () => clock.now);
    const smallCalls = () => server!.calls.filter((c) => c.model === 'small-model').length;

    for (let i = 0; i < 3; i++) await assert.rejects(provider.complete(request(small)), /HTTP 503/);
    await assert.rejects(provider.complete(request(small)), (err: unknown) => {
      assert.ok(err instanceof ProviderError);
      assert.equal(err.kind, 'unavailable', 'retryable, like the outage it stands for');
      assert.match(err.message, /^openai: circuit breaker for small-model is open after 3 consecutive failures/);
      return true;
    });
    assert.equal(smallCalls(), 3, 'the open circuit made no upstream call');
    assert.equal((await provider.complete(request(medium))).text, 'ok', 'another model has its own breaker');

    smallIsDown = false;
    clock.now += 30_000;
    assert.equal((await provider.complete(request(small))).text, 'ok', 'the probe gets through and closes the circuit');
    assert.equal(smallCalls(), 4);
  });
});
