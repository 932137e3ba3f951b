import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ModelSpec } from '../src/domain/catalog';
import { RouteRequestSchema, type OutputSchema, type RouteRequest, type RouteRequestInput } from '../src/domain/request';
import { QualityVerdictSchema, type ModelResult } from '../src/domain/results';
import { QualityGate, defaultValidators } from '../src/evaluators/gate';
import { JudgeReplyError, LlmJudge } from '../src/evaluators/judge';
import { RecordedVerdictEvaluator } from '../src/evaluators/recorded';
import type { Evaluation, Evaluator } from '../src/evaluators/types';
import {
  EmptyAnswerValidator,
  LengthValidator,
  OutputSchemaValidator,
  RefusalValidator,
  compileOutputSchema,
} from '../src/evaluators/validators';
import { ProviderError, type CompletionRequest, type ModelProvider } from '../src/providers/types';

function request(overrides: Partial<RouteRequestInput> = {}): RouteRequest {
  return RouteRequestSchema.parse({ requestId: 'r-1', prompt: 'Where is my parcel QS-1234?', taskType: 'qa', ...overrides });
}

function answer(text: string, overrides: Partial<ModelResult> = {}): ModelResult {
  return { model: 'small-1', provider: 'sim', text, inputTokens: 10, outputTokens: 10, costUsd: 0.0001, latencyMs: 5, origin: 'live', ...overrides };
}

const ORDER_SCHEMA: OutputSchema = {
  type: 'object',
  properties: { orderNumber: { type: 'string' }, amount: { type: 'number' }, items: { type: 'integer' }, giftWrap: { type: 'boolean' } },
  required: ['orderNumber', 'amount'],
};
const extraction = request({ taskType: 'extraction', outputSchema: ORDER_SCHEMA, fieldCount: 4 });

describe('empty answer validator', () => {
  it('fails an empty or whitespace answer and passes text', async () => {
    const v = new EmptyAnswerValidator();
    assert.equal((await v.evaluate(request(), answer(''))).score, 0);
    assert.equal((await v.evaluate(request(), answer(' \n\t '))).score, 0);
    assert.deepEqual(await v.evaluate(request(), answer('In transit.')), { score: 1, reasons: [], costUsd: 0 });
  });
});

describe('refusal validator', () => {
  const v = new RefusalValidator();
  for (const text of [
    "I can't help with that request.",
    'I cannot assist with this.',
    'As an AI language model, I do not have access to tracking systems.',
    "I\u2019m sorry, but I can\u2019t help with that.",
    'I must respectfully decline.',
  ]) {
    it(`fails "${text}"`, async () => {
      const e = await v.evaluate(request(), answer(text));
      assert.equal(e.score, 0);
      assert.match(e.reasons[0] ?? '', /refusal/);
    });
  }

  it('passes an apologetic but helpful customer reply', async () => {
    const e = await v.evaluate(request(), answer("I'm sorry, but I can't find parcel QS-1234 yet; it was scanned in Leipzig this morning."));
    assert.equal(e.score, 1);
  });

  it('ignores refusal phrases quoted late in a long answer', async () => {
    const text = `${'The ticket history shows three contacts. '.repeat(20)}The agent wrote "I can't help with that".`;
    assert.equal((await v.evaluate(request(), answer(text))).score, 1);
  });
});

describe('output schema validator', () => {
  const v = new OutputSchemaValidator();

  it('passes requests without an output schema', async () => {
    assert.equal((await v.evaluate(request(), answer('free text'))).score, 1);
  });

  it('passes a valid object, with optional fields absent or null and extra fields present', async () => {
    assert.equal((await v.evaluate(extraction, answer('{"orderNumber":"QS-1","amount":12.5}'))).score, 1);
    assert.equal((await v.evaluate(extraction, answer('{"orderNumber":"QS-1","amount":3,"items":null,"note":"x"}'))).score, 1);
  });

  it('accepts a ```json fenced block, with prose around it', async () => {
    const text = 'Here is the result:\n```json\n{"orderNumber": "QS-9", "amount": 40, "items": 2, "giftWrap": false}\n```\n';
    assert.equal((await v.evaluate(extraction, answer(text))).score, 1);
  });

  it('names a missing required field', async () => {
    const e = await v.evaluate(extraction, answer('{"amount": 12.5}'));
    assert.equal(e.score, 0);
    assert.deepEqual(e.reasons, ['field "orderNumber" is missing']);
  });

  it('names each field of the wrong type', async () => {
    const e = await v.evaluate(extraction, answer('{"orderNumber": 17, "amount": "12.50", "items": 1.5, "giftWrap": "no"}'));
    assert.equal(e.score, 0);
    assert.deepEqual(e.reasons.sort(), [
      'field "amount" must be number, got string',
      'field "giftWrap" must be boolean, got string',
      'field "items" must be integer, got number',
      'field "orderNumber" must be string, got integer',
    ]);
  });

  it('fails an answer that is not JSON, or not an object', async () => {
    const prose = await v.evaluate(extraction, answer('The order number is QS-1 and the amount is 12.50.'));
    assert.equal(prose.score, 0);
    assert.match(prose.reasons[0] ?? '', /not valid JSON/);
    const list = await v.evaluate(extraction, answer('[{"orderNumber":"QS-1","amount":1}]'));
    assert.equal(list.score, 0);
    assert.match(list.reasons[0] ?? '', /must be a JSON object, got array/);
  });

  it('compiles every field type', () => {
    const schema = compileOutputSchema({
      type: 'object',
      properties: { s: { type: 'string' }, n: { type: 'number' }, i: { type: 'integer' }, b: { type: 'boolean' }, a: { type: 'array' }, o: { type: 'object' } },
      required: ['s', 'n', 'i', 'b', 'a', 'o'],
    });
    assert.ok(schema.safeParse({ s: 'x', n: 1.5, i: 2, b: true, a: [1, 'two'], o: { k: 1 } }).success);
    assert.ok(!schema.safeParse({ s: 'x', n: 1.5, i: 2, b: true, a: [], o: [] }).success, 'an array is not an object');
    assert.ok(!schema.safeParse({ s: 'x', n: 1.5, i: 2, b: true, a: {}, o: {} }).success, 'an object is not an array');
  });
});

describe('length validator', () => {
  const v = new LengthValidator();

  it('derives its limit from the expected output size, with a floor', () => {
    assert.equal(v.maxChars(request({ expectedOutputTokens: 500 })), 16_000);
    assert.equal(v.maxChars(request({ expectedOutputTokens: 5 })), 2_000);
  });

  it('fails an answer far longer than expected and says why', async () => {
    const e = await v.evaluate(request({ expectedOutputTokens: 100 }), answer('word '.repeat(1000)));
    assert.equal(e.score, 0);
    assert.match(e.reasons[0] ?? '', /5000 characters, over the limit of 3200/);
    assert.equal((await v.evaluate(request({ expectedOutputTokens: 100 }), answer('word '.repeat(600)))).score, 1);
  });

  it('fails truncated answers: unclosed fence or unbalanced JSON', async () => {
    const fence = await v.evaluate(request(), answer('```json\n{"a": 1}\n'));
    assert.match(fence.reasons[0] ?? '', /truncated \(unclosed code fence\)/);
    const json = await v.evaluate(request(), answer('{"orderNumber": "QS-1", "address": {"street": "Main St'));
    assert.match(json.reasons[0] ?? '', /truncated \(unbalanced JSON\)/);
    assert.equal((await v.evaluate(request(), answer('{"note": "braces { in [ a string"}'))).score, 1);
  });
});

const JUDGE_MODEL: ModelSpec = {
  id: 'judge-large',
  provider: 'fake',
  tier: 3,
  tierName: 'large',
  inputUsdPer1M: 2,
  outputUsdPer1M: 10,
  contextWindow: 128_000,
  timeouts: { startToCloseMs: 30_000, scheduleToCloseMs: 120_000 },
};

/** A provider that always replies `reply` and keeps what it was asked. */
function fakeJudgeProvider(reply: string): ModelProvider & { calls: CompletionRequest[] } {
  const calls: CompletionRequest[] = [];
  return {
    name: 'fake',
    bills: true,
    calls,
    async complete(req) {
      calls.push(req);
      return { text: reply, inputTokens: 1000, outputTokens: 50, latencyMs: 3, origin: 'live' };
    },
  };
}

describe('LLM judge', () => {
  const expectedCost = (1000 * 2 + 50 * 10) / 1_000_000;

  it('reads a JSON score, scales it to 0..1 and prices the call with the judge model', async () => {
    const provider = fakeJudgeProvider('{"score": 8, "reason": "correct tracking status"}');
    const e = await new LlmJudge({ provider, model: JUDGE_MODEL }).evaluate(request(), answer('It is in Leipzig.'));
    assert.equal(e.score, 0.8);
    assert.ok(Math.abs(e.costUsd - expectedCost) < 1e-12);
    assert.match(e.reasons[0] ?? '', /8\/10: correct tracking status/);
    const call = provider.calls[0];
    assert.equal(call?.model.id, 'judge-large');
    assert.match(call?.prompt ?? '', /Where is my parcel QS-1234\?[\s\S]*It is in Leipzig\./);
    assert.notEqual(call?.requestId, 'r-1', 'the judge call must not reuse the answer call id');
  });

  it('reads a fenced JSON reply and the "Score: 9/10" fallback', async () => {
    const fenced = fakeJudgeProvider('```json\n{"score": "6"}\n```');
    assert.equal((await new LlmJudge({ provider: fenced, model: JUDGE_MODEL }).evaluate(request(), answer('x'))).score, 0.6);
    const prose = fakeJudgeProvider('The answer is accurate and complete.\nScore: 9/10');
    assert.equal((await new LlmJudge({ provider: prose, model: JUDGE_MODEL }).evaluate(request(), answer('x'))).score, 0.9);
  });

  for (const reply of ['Looks fine to me!', '{"score": 42}', '{"verdict": "good"}']) {
    it(`throws a JudgeReplyError for ${JSON.stringify(reply)}`, async () => {
      const judge = new LlmJudge({ provider: fakeJudgeProvider(reply), model: JUDGE_MODEL });
      await assert.rejects(judge.evaluate(request(), answer('x')), (err: unknown) => {
        assert.ok(err instanceof JudgeReplyError);
        assert.equal(err.reply, reply);
        assert.ok(err.costUsd > 0, 'the unreadable call still cost money');
        return true;
      });
    });
  }
});

describe('recorded verdict evaluator', () => {
  const v = new RecordedVerdictEvaluator();

  it('uses the recorded quality of a replayed answer, at no cost', async () => {
    const e = await v.evaluate(request(), answer('x', { origin: 'replayed', recordedQuality: 0.72 }));
    assert.equal(e.score, 0.72);
    assert.equal(e.costUsd, 0);
  });

  it('refuses a live answer without a recorded quality', async () => {
    await assert.rejects(v.evaluate(request(), answer('x')), /recorded verdict needs a replayed or simulated answer/);
  });
});

/** A scorer with a fixed score and cost that counts its calls. */
function fixedScorer(score: number, costUsd: number): Evaluator & { calls: number } {
  return {
    name: 'fixed',
    calls: 0,
    async evaluate(): Promise<Evaluation> {
      this.calls++;
      return { score, reasons: [`fixed ${score}`], costUsd };
    },
  };
}

describe('quality gate', () => {
  it('passes at exactly the threshold and fails just below it', async () => {
    const gate = new QualityGate({ validators: defaultValidators(), scorer: new RecordedVerdictEvaluator() });
    const at = await gate.evaluate(request(), answer('In Leipzig.', { origin: 'replayed', recordedQuality: 0.95 }), 0.95);
    assert.equal(at.passed, true);
    assert.equal(at.score, 0.95);
    assert.equal(at.evaluator, 'validators+recorded');
    QualityVerdictSchema.parse(at);
    const below = await gate.evaluate(request(), answer('In Leipzig.', { origin: 'replayed', recordedQuality: 0.94 }), 0.95);
    assert.equal(below.passed, false);
  });

  it('short-circuits the scorer when a validator fails', async () => {
    const scorer = fixedScorer(1, 0.01);
    const gate = new QualityGate({ validators: defaultValidators(), scorer });
    const v = await gate.evaluate(extraction, answer('{"amount": 3}'), 0.5);
    assert.equal(scorer.calls, 0);
    assert.deepEqual(
      { passed: v.passed, score: v.score, evaluator: v.evaluator, costUsd: v.costUsd },
      { passed: false, score: 0, evaluator: 'validators', costUsd: 0 },
    );
    assert.deepEqual(v.reasons, ['schema: field "orderNumber" is missing']);
  });

  it('sums validator and scorer costs', async () => {
    const paidCheck: Evaluator = { name: 'paid-check', evaluate: async () => ({ score: 1, reasons: [], costUsd: 0.002 }) };
    const scorer = fixedScorer(0.7, 0.003);
    const v = await new QualityGate({ validators: [paidCheck], scorer }).evaluate(request(), answer('ok'), 0.8);
    assert.equal(scorer.calls, 1);
    assert.ok(Math.abs(v.costUsd - 0.005) < 1e-12);
    assert.equal(v.passed, false);
    assert.deepEqual(v.reasons, ['fixed 0.7']);
  });

  it('scores a valid answer 1 without a scorer, and rejects a threshold outside 0..1', async () => {
    const gate = new QualityGate({ validators: defaultValidators() });
    const v = await gate.evaluate(request(), answer('In Leipzig.'), 1);
    assert.deepEqual({ passed: v.passed, score: v.score, evaluator: v.evaluator }, { passed: true, score: 1, evaluator: 'validators' });
    await assert.rejects(gate.evaluate(request(), answer('x'), 1.5), RangeError);
  });

  it('does not call the scorer once the signal is aborted', async () => {
    const scorer = fixedScorer(1, 0.01);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(new QualityGate({ validators: [], scorer }).evaluate(request(), answer('x'), 0.5, controller.signal));
    assert.equal(scorer.calls, 0);
  });
});

/** A judge that cannot be reached: every call fails as the provider reports an outage. */
function downJudge(message = 'openai: provider unavailable, HTTP 500: judge down'): Evaluator & { calls: number } {
  return {
    name: 'judge',
    calls: 0,
    async evaluate(): Promise<Evaluation> {
      this.calls++;
      throw new ProviderError('unavailable', message, { status: 500, provider: 'openai' });
    },
  };
}

describe('quality gate when the judge is unavailable', () => {
  it('escalates by default: the outage reaches the activity, which retries and then climbs the ladder', async () => {
    const gate = new QualityGate({ validators: defaultValidators(), scorer: downJudge() });
    await assert.rejects(gate.evaluate(request(), answer('In Leipzig.'), 0.9), ProviderError);
    await assert.rejects(gate.evaluate(request(), answer('In Leipzig.'), 0.9, undefined, 'escalate'), ProviderError);
  });

  it('keep-unjudged keeps a valid answer at the threshold, marked unjudged, with the redacted reason', async () => {
    const judge = downJudge('openai: provider unavailable, HTTP 500: bad key sk-planted-12345678');
    const gate = new QualityGate({ validators: defaultValidators(), scorer: judge });
    const v = await gate.evaluate(request(), answer('In Leipzig.'), 0.9, undefined, 'keep-unjudged');
    QualityVerdictSchema.parse(v);
    assert.deepEqual(
      { passed: v.passed, score: v.score, unjudged: v.unjudged, evaluator: v.evaluator, costUsd: v.costUsd },
      { passed: true, score: 0.9, unjudged: true, evaluator: 'validators+judge:unjudged', costUsd: 0 },
    );
    assert.deepEqual(v.reasons, ['judge unavailable: openai: provider unavailable, HTTP 500: bad key [redacted]; kept on the validators alone']);
    assert.equal(judge.calls, 1);
  });

  it('keep-unjudged still fails an answer the validators reject, without asking the judge', async () => {
    const judge = downJudge();
    const v = await new QualityGate({ validators: defaultValidators(), scorer: judge }).evaluate(extraction, answer('{"amount": 3}'), 0.9, undefined, 'keep-unjudged');
    assert.equal(v.passed, false);
    assert.equal(v.unjudged, undefined);
    assert.equal(judge.calls, 0);
  });

  it('keep-unjudged does not hide a judge that answered nonsense: that still fails the answer', async () => {
    const nonsense: Evaluator = { name: 'judge', evaluate: async () => Promise.reject(new JudgeReplyError('no score', 'hmm', 0.001)) };
    const v = await new QualityGate({ validators: [], scorer: nonsense }).evaluate(request(), answer('x'), 0.9, undefined, 'keep-unjudged');
    assert.deepEqual({ passed: v.passed, unjudged: v.unjudged, costUsd: v.costUsd }, { passed: false, unjudged: undefined, costUsd: 0.001 });
  });

  it('failover grades with the other judge, and escalates when that one is down too', async () => {
    const backup = fixedScorer(0.8, 0.002);
    const gate = new QualityGate({ validators: [], scorer: downJudge(), failoverJudges: new Map([['judge-b', backup], ['judge-c', downJudge()]]) });
    const v = await gate.evaluate(request(), answer('x'), 0.7, undefined, { failover: 'judge-b' });
    assert.deepEqual(
      { passed: v.passed, score: v.score, unjudged: v.unjudged, evaluator: v.evaluator, costUsd: v.costUsd },
      { passed: true, score: 0.8, unjudged: undefined, evaluator: 'judge:failover judge-b', costUsd: 0.002 },
    );
    assert.match(v.reasons[0] ?? '', /^judge unavailable: .*judge down; judged by judge-b instead$/);
    assert.equal(v.reasons[1], 'fixed 0.8');
    await assert.rejects(gate.evaluate(request(), answer('x'), 0.7, undefined, { failover: 'judge-c' }), ProviderError);
  });
});
