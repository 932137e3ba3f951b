import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ActivityDeps } from '../src/activities';
import { DecisionLogWriter } from '../src/analytics/decisionLogWriter';
import { loadReport } from '../src/analytics/report/load';
import { estimateRetention } from '../src/analytics/report/shadow';
import { FileContentStore } from '../src/claimCheck/contentStore';
import type { Shadow } from '../src/domain/policy';
import { INLINE_CONTENT_LIMIT, RouteRequestSchema, type RouteRequestInput } from '../src/domain/request';
import type { DecisionLog, DecisionLogSink, ModelResult, ShadowSample } from '../src/domain/results';
import { defaultValidators, QualityGate } from '../src/evaluators/gate';
import { JudgeReplyError } from '../src/evaluators/judge';
import type { Evaluator } from '../src/evaluators/types';
import { parseOrThrow, ValidationError } from '../src/domain/validation';
import { seededRandom } from '../src/routing/random';
import { inShadowSample, routedShownFirst, shouldShadow, shuffledPair } from '../src/routing/shadow';
import { RoutingPolicySchema, type RoutingPolicy } from '../src/routing/strategies/registry';
import { loadRouterConfig } from '../src/worker/config';
import { createRouterWorker } from '../src/worker/createWorker';
import type { shadowEvaluation } from '../src/workflows';
import defaultPolicy from '../config/default-policy.json';
import { catalogWithJudges, defaultPolicies } from './helpers/catalog';
import { waitFor } from './helpers/childWorker';
import { ANSWER_USAGE, JUDGE, loopbackDeps } from './helpers/loopbackRouter';
import { chatCompletion, openAIError, startOpenAIServer, type OpenAIServer, type Scripted, type ScriptHandler } from './helpers/openaiServer';
import { RoutingToEndClient } from './helpers/routerClient';
import { devServerEnv, workflowBundle } from './helpers/temporal';

const dir = mkdtempSync(join(tmpdir(), 'shadow-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function policyError(shadow: unknown): string {
  try {
    parseOrThrow(RoutingPolicySchema, { ...defaultPolicy, shadow }, 'routing policy');
  } catch (err) {
    assert.ok(err instanceof ValidationError);
    return err.message;
  }
  return assert.fail('the policy was accepted');
}

describe('the policy\'s shadow setting', () => {
  it('names shadow.sampleRate and shadow.judgeModel and the rule they broke', () => {
    assert.equal(policyError({ sampleRate: 1.5 }), 'Invalid routing policy: shadow.sampleRate: must be a share between 0 and 1');
    assert.equal(policyError({ sampleRate: -0.1 }), 'Invalid routing policy: shadow.sampleRate: must be a share between 0 and 1');
    assert.equal(policyError({ sampleRate: '0.3' }), 'Invalid routing policy: shadow.sampleRate: must be number, got string');
    assert.equal(policyError({}), 'Invalid routing policy: shadow.sampleRate: is required');
    assert.equal(policyError({ sampleRate: 0.1, judgeModel: '' }), 'Invalid routing policy: shadow.judgeModel: must be a catalog model id');
    assert.equal(policyError({ sampleRate: 0.1, rate: 0.2 }), 'Invalid routing policy: shadow: unknown field(s) "rate"');
    const parsed = RoutingPolicySchema.parse({ ...defaultPolicy, shadow: { sampleRate: 0.25, judgeModel: 'strong' } });
    assert.deepEqual(parsed.shadow, { sampleRate: 0.25, judgeModel: 'strong' });
    assert.equal(RoutingPolicySchema.parse(defaultPolicy).shadow, undefined, 'optional: no shadow unless set');
  });

  it('stops start-up when shadow.judgeModel is not in the catalog, naming the file, the field and the known models', () => {
    const timeouts = { startToCloseMs: 1_000, scheduleToCloseMs: 10_000 };
    const model = (id: string, tier: number, tierName: string) => ({ id, provider: 'simulated', tier, tierName, inputUsdPer1M: tier, outputUsdPer1M: tier, contextWindow: 8_000, timeouts });
    const catalogPath = join(dir, 'catalog.json');
    writeFileSync(catalogPath, JSON.stringify({ models: [model('cheap', 1, 'small'), model('strong', 3, 'large')] }));
    const policyPath = (shadow: Shadow) => {
      const path = join(dir, `policy-${shadow.judgeModel}.json`);
      writeFileSync(path, JSON.stringify({ id: 'custom', version: 'v1', strategy: 'rules', gate: { threshold: 0.9 }, maxEscalations: 1, rules: [{ id: 'all', description: 'All.', when: {}, route: { tier: 'small' } }], shadow }));
      return path;
    };
    const bad = policyPath({ sampleRate: 0.1, judgeModel: 'gpt-9' });
    assert.throws(
      () => loadRouterConfig({ MODEL_ROUTER_CATALOG: catalogPath, MODEL_ROUTER_POLICIES: bad }),
      (err: Error) => err.message === `Invalid routing policy (MODEL_ROUTER_POLICIES=${bad}): shadow.judgeModel: "gpt-9" is not in the catalog (cheap, strong)`,
    );
    const good = loadRouterConfig({ MODEL_ROUTER_CATALOG: catalogPath, MODEL_ROUTER_POLICIES: policyPath({ sampleRate: 0.1, judgeModel: 'strong' }) });
    assert.deepEqual(good.policies.get('custom')?.shadow, { sampleRate: 0.1, judgeModel: 'strong' });
  });
});

/** A seeded stream of request ids, as a gateway would mint them. */
function requestIds(n: number, seed: number): string[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => `req-${Math.floor(random() * 2 ** 32).toString(36)}-${i}`);
}

describe('shadow sampling', () => {
  const ids = requestIds(5_000, 20261202);
  const sampled = (rate: number, policyId = 'default') => ids.filter((id) => inShadowSample(rate, policyId, id));

  for (const rate of [0.05, 0.3]) {
    it(`samples a share of ${rate} of a seeded stream of 5,000 ids, within the binomial 99.9 % bound`, () => {
      const n = ids.length;
      // Two-sided 99.9 %: |k − np| ≤ 3.29 · √(np(1 − p)); for 0.05: 250 ± 50.7, for 0.3: 1500 ± 106.6.
      const bound = 3.29 * Math.sqrt(n * rate * (1 - rate));
      const k = sampled(rate).length;
      assert.ok(Math.abs(k - n * rate) <= bound, `${k} sampled of ${n} at rate ${rate} (expected ${n * rate} ± ${bound.toFixed(1)})`);
    });
  }

  it('samples every id at rate 1 and none at rate 0', () => {
    assert.equal(sampled(1).length, 5_000);
    assert.equal(sampled(0).length, 0);
  });

  it('decides the same for the same request every time, and independently for another policy', () => {
    assert.deepEqual(sampled(0.3), sampled(0.3));
    const other = new Set(sampled(0.3, 'other-policy'));
    const both = sampled(0.3).filter((id) => other.has(id)).length;
    // Independent subsets overlap on about 0.3 · 0.3 · 5000 = 450 ids, not the 1500 of the same subset.
    assert.ok(both > 350 && both < 550, `${both} ids in both policies' samples`);
    // A smaller rate's sample is part of a larger one's: raising the rate only adds requests.
    const wider = new Set(sampled(0.3));
    assert.ok(sampled(0.05).every((id) => wider.has(id)));
  });

  it('runs nothing when the kept answer is already the best model\'s, or the policy does not shadow', () => {
    const request = { policyId: 'default', requestId: ids[0]! };
    assert.equal(shouldShadow({ sampleRate: 1 }, request, { kept: 'large-model', best: 'large-model' }), false);
    assert.equal(shouldShadow(undefined, request, { kept: 'small-model', best: 'large-model' }), false);
    assert.equal(shouldShadow({ sampleRate: 1 }, request, { kept: 'small-model', best: 'large-model' }), true);
  });

  it('shows the routed answer first for about half the requests, and maps the scores back to their answers', () => {
    const first = ids.filter(routedShownFirst).length;
    // 2500 ± 3.29 · √(5000 · 0.25) = 2500 ± 116.3
    assert.ok(Math.abs(first - 2_500) <= 116.3, `${first} of 5000 shown routed-first`);
    const routedFirstId = ids.find(routedShownFirst)!;
    const bestFirstId = ids.find((id) => !routedShownFirst(id))!;
    const a = shuffledPair(routedFirstId, 'routed answer', 'best answer');
    assert.deepEqual(a.shown, ['routed answer', 'best answer']);
    assert.deepEqual(a.unshuffle([0.2, 0.9]), { routed: 0.2, best: 0.9 });
    const b = shuffledPair(bestFirstId, 'routed answer', 'best answer');
    assert.deepEqual(b.shown, ['best answer', 'routed answer']);
    assert.deepEqual(b.unshuffle([0.2, 0.9]), { routed: 0.9, best: 0.2 });
  });
});

describe('the gate\'s score for a comparison', () => {
  const request = RouteRequestSchema.parse({ requestId: 'score-1', prompt: 'Classify the intent: "refund please"', taskType: 'classification' });
  const answer = (text: string): ModelResult => ({ model: 'small-model', provider: 'openai', text, inputTokens: 1, outputTokens: 1, costUsd: 0, latencyMs: 1, origin: 'live' });
  const scorer = (evaluate: Evaluator['evaluate']): Evaluator => ({ name: 'judge', evaluate });

  it('is 0 for an answer a validator fails, the scorer\'s otherwise, and names the gate', async () => {
    const gate = new QualityGate({ validators: defaultValidators(), scorer: scorer(async () => ({ score: 0.7, reasons: [], costUsd: 0.001 })) });
    assert.deepEqual(await gate.score(request, answer('')), { score: 0, evaluator: 'validators', costUsd: 0 });
    assert.deepEqual(await gate.score(request, answer('billing')), { score: 0.7, evaluator: 'validators+judge', costUsd: 0.001 });
  });

  it('lets an unreadable judge reply through rather than scoring the answer 0, as the gate\'s verdict would', async () => {
    const gate = new QualityGate({ validators: defaultValidators(), scorer: scorer(async () => { throw new JudgeReplyError('no score', 'hmm', 0.001); }) });
    assert.equal((await gate.evaluate(request, answer('billing'), 0)).score, 0, 'the verdict fails the answer');
    await assert.rejects(gate.score(request, answer('billing')), JudgeReplyError);
  });
});

describe('quality retention from shadow samples', () => {
  const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual}, expected ${expected}`);

  it('gives the ratio of mean scores with the delta-method interval', () => {
    // Means 0.75 and 1, R = 0.75; residuals 0.25, −0.75, 0.25, 0.25: variance 0.75 / 3 = 0.25, se = √(0.25 / 4) = 0.25.
    const r = estimateRetention([
      { routedScore: 1, bestScore: 1 },
      { routedScore: 0, bestScore: 1 },
      { routedScore: 1, bestScore: 1 },
      { routedScore: 1, bestScore: 1 },
    ])!;
    close(r.estimate, 0.75, 'estimate');
    close(r.low, 0.75 - 1.959963984540054 * 0.25, 'low');
    close(r.high, 0.75 + 1.959963984540054 * 0.25, 'high');
    assert.equal(r.samples, 4);
  });

  it('is null without samples or when the best model never scored; wide but finite with one sample or zero variance', () => {
    assert.equal(estimateRetention([]), null);
    assert.equal(estimateRetention([{ routedScore: 0.5, bestScore: 0 }]), null);
    // One sample: R = 0.8, half-width by the rule of three 3/1 · (1 + 0.8) / 1 = 5.4, the low bound clamped at 0.
    const one = estimateRetention([{ routedScore: 0.8, bestScore: 1 }])!;
    close(one.estimate, 0.8, 'estimate');
    close(one.low, 0, 'low');
    close(one.high, 6.2, 'high');
    // Four identical pairs: R = 0.5, residuals all 0, half-width 3/4 · 1.5 / 1 = 1.125.
    const flat = estimateRetention(Array.from({ length: 4 }, () => ({ routedScore: 0.5, bestScore: 1 })))!;
    close(flat.estimate, 0.5, 'estimate');
    close(flat.low, 0, 'low');
    close(flat.high, 1.625, 'high');
    // 300 identical pairs: half-width 3/300 · 2 / 0.9 = 0.0222..., so the interval narrows with n even without spread.
    const many = estimateRetention(Array.from({ length: 300 }, () => ({ routedScore: 0.9, bestScore: 0.9 })))!;
    close(many.high - many.estimate, (3 / 300) * 2 / 0.9, 'half-width');
  });

  /**
   * Best scores uniform in 0.5..1; the routed answer is as good as the best one with probability 0.9, else worth 0.
   * So E[routed] = 0.9 · E[best] and the true retention is 0.9.
   */
  function syntheticStream(n: number, seed: number) {
    const random = seededRandom(seed);
    return Array.from({ length: n }, () => {
      const bestScore = 0.5 + 0.5 * random();
      return { bestScore, routedScore: random() < 0.9 ? bestScore : 0 };
    });
  }

  it('covers the true retention in at least 90 of 100 seeded streams at 95 %', () => {
    let covered = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const r = estimateRetention(syntheticStream(400, seed))!;
      if (r.low <= 0.9 && 0.9 <= r.high) covered++;
    }
    assert.ok(covered >= 90, `${covered} of 100 intervals cover 0.9`);
  });

  it('narrows as 1/√n: 16 times the samples, about a quarter of the width', () => {
    const meanWidth = (n: number) => {
      let sum = 0;
      for (let seed = 1; seed <= 20; seed++) {
        const r = estimateRetention(syntheticStream(n, seed * 7919))!;
        sum += r.high - r.low;
      }
      return sum / 20;
    };
    const ratio = meanWidth(100) / meanWidth(1_600);
    assert.ok(ratio > 3.4 && ratio < 4.6, `width ratio ${ratio}`);
  });
});

/** The test's decision log: rows and samples by requestId, each written once, as the real store must. */
class MemorySink implements DecisionLogSink {
  readonly logs = new Map<string, DecisionLog>();
  readonly samples = new Map<string, ShadowSample>();
  readonly order: string[] = [];

  record(log: DecisionLog): void {
    if (this.logs.has(log.requestId)) return;
    this.logs.set(log.requestId, log);
    this.order.push(`row ${log.requestId}`);
  }

  recordShadow(sample: ShadowSample): void {
    if (this.samples.has(sample.requestId)) return;
    this.samples.set(sample.requestId, sample);
    this.order.push(`shadow ${sample.requestId}`);
  }
}

const TASK_QUEUE = 'shadow-test';
const PAIR_JUDGE = 'pair-judge';
/** Every judge call reports these tokens, so its price is known: judge-model at $0.1/$0.1 per 1M, pair-judge at $0.2/$0.8. */
const JUDGE_USAGE = { prompt_tokens: 200, completion_tokens: 20 } as const;
const HANGS: Scripted = { delayMs: 10 * 60_000, json: chatCompletion('large-model', 'too late', ANSWER_USAGE) };

/**
 * Models answer `answer from <model>`; the gate's judge scores the small model's answer 10 (it passes, so it is kept)
 * and the large model's 8; the pairwise judge scores the small model's answer 6 and the large one's 9, by reading
 * which answer stands in which position.
 */
function shadowModels(script: Record<string, () => Scripted> = {}): ScriptHandler {
  return (body) => {
    const prompt = body.messages.map((m) => m.content).join('\n');
    if (body.model === JUDGE.id) {
      const author = /<answer>\nanswer from ([\w.-]+)/.exec(prompt)?.[1];
      return { json: chatCompletion(JUDGE.id, JSON.stringify({ score: author === 'large-model' ? 8 : 10, reason: 'ok' }), JUDGE_USAGE) };
    }
    if (body.model === PAIR_JUDGE) {
      const score = (position: string) => (new RegExp(`<answer id="${position}">\\nanswer from small-model`).test(prompt) ? 6 : 9);
      return { json: chatCompletion(PAIR_JUDGE, JSON.stringify({ first: score('first'), second: score('second'), reason: 'ok' }), JUDGE_USAGE) };
    }
    const scripted = script[body.model];
    if (scripted) return scripted();
    return { json: chatCompletion(body.model, `answer from ${body.model}`, ANSWER_USAGE) };
  };
}

const kinds = (events: readonly temporal.api.history.v1.IHistoryEvent[]) => events.map((e) => Object.keys(e).find((k) => k.endsWith('EventAttributes')) ?? '');

describe('shadow evaluation through a real Temporal dev server', () => {
  let env: TestWorkflowEnvironment;
  let server: OpenAIServer | undefined;
  const contentStore = new FileContentStore(join(dir, 'content'));

  before(async () => {
    env = await devServerEnv();
    await workflowBundle();
  });
  after(async () => {
    await server?.close();
    await env?.teardown();
  });

  const client = () => new RoutingToEndClient({ client: env.client, taskQueue: TASK_QUEUE, contentStore });

  /** Routes one request on a fresh worker and loopback server, and runs `then` while the worker still runs. */
  async function route<T>(
    request: RouteRequestInput,
    opts: { shadow?: Shadow; speculative?: RoutingPolicy['speculative']; script?: Record<string, () => Scripted>; sink: DecisionLogSink },
    then: (log: DecisionLog) => Promise<T>,
  ): Promise<T> {
    await server?.close();
    server = await startOpenAIServer(shadowModels(opts.script));
    const deps: ActivityDeps = loopbackDeps(server.baseUrl, {
      catalog: catalogWithJudges('openai', [PAIR_JUDGE]),
      policies: defaultPolicies({ ...(opts.shadow && { shadow: opts.shadow }), ...(opts.speculative && { speculative: opts.speculative }) }),
      decisionLog: opts.sink,
      contentStore,
    });
    const worker = await createRouterWorker({ connection: env.nativeConnection, taskQueue: TASK_QUEUE, workflows: { bundle: await workflowBundle() }, deps, shutdownGraceTime: 1_000 });
    return worker.runUntil(async () => then(await client().route(request)));
  }

  const shadowHandle = (log: DecisionLog) => env.client.workflow.getHandle<typeof shadowEvaluation>(`shadow-${log.workflowId}`);
  const historyOf = async (workflowId: string) => (await env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const calls = (model: string) => server!.calls.filter((c) => c.model === model);

  // The request's own cost: small-model 100 in / 50 out at $0.15/$0.60 per 1M, and one gate judge call of 200 / 20 at $0.1/$0.1.
  const REQUEST_COST = (100 * 0.15 + 50 * 0.6) / 1e6 + (200 * 0.1 + 20 * 0.1) / 1e6;
  const LARGE_CALL = (100 * 2.5 + 50 * 10) / 1e6;
  const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual}, expected ${expected}`);

  it('sampleRate 1: the request keeps its answer and cost; the shadow scores both answers with the gate\'s judge, on the claim-checked prompt', async () => {
    const sink = new MemorySink();
    // Above the inline limit, so the prompt travels as a content reference; the words keep the judges' regexes unambiguous.
    const prompt = `Classify the intent of this support thread: ${'my card was charged twice. '.repeat(Math.ceil(INLINE_CONTENT_LIMIT / 27) + 10)}`;
    const { log, sample } = await route({ requestId: 'shadow-gate', prompt, taskType: 'classification' }, { shadow: { sampleRate: 1 }, sink }, async (log) => ({ log, sample: await shadowHandle(log).result() }));

    assert.equal(log.answer, 'answer from small-model');
    assert.equal(log.finalModel, 'small-model');
    close(log.costUsd, REQUEST_COST, 'the request\'s costUsd');
    close(sink.logs.get('shadow-gate')!.costUsd, REQUEST_COST, 'the row\'s costUsd');

    assert.deepEqual(sink.samples.get('shadow-gate'), sample, 'the sample written is the shadow run\'s result');
    assert.equal(sample.workflowId, `shadow-${log.workflowId}`);
    assert.deepEqual([sample.routedModel, sample.bestModel, sample.routedScore, sample.bestScore], ['small-model', 'large-model', 1, 0.8]);
    assert.equal(sample.routedShownFirst, routedShownFirst('shadow-gate'));
    assert.equal(sample.judgeModel, 'validators+recorded|judge', 'the gate\'s scorer: recorded quality, else the judge');
    // The best call plus two gate judge calls, and none of it in the request's cost.
    close(sample.costUsd, LARGE_CALL + (2 * (200 * 0.1 + 20 * 0.1)) / 1e6, 'the shadow\'s costUsd');
    assert.deepEqual(sink.order, ['row shadow-gate', 'shadow shadow-gate'], 'the row was written before the sample');

    // The best model got the whole prompt back from the content store, and the judge saw the answers in the shuffled order.
    assert.equal(calls('large-model').length, 1);
    assert.equal(calls('large-model')[0]!.messages.at(-1)!.content, prompt);
    const judged = calls(JUDGE.id).slice(1).map((c) => /<answer>\nanswer from ([\w.-]+)/.exec(c.messages.map((m) => m.content).join('\n'))?.[1]);
    assert.deepEqual(judged, sample.routedShownFirst ? ['small-model', 'large-model'] : ['large-model', 'small-model']);

    // The child's input carries the reference, not the prompt; the parent started it after the caller had the answer.
    const childStart = (await historyOf(sample.workflowId))[0]!.workflowExecutionStartedEventAttributes!;
    const input = Buffer.from(childStart.input!.payloads![0]!.data!).toString('utf8');
    assert.ok(input.includes('"contentRef"') && !input.includes('charged twice'), 'the claim-checked prompt stays a reference');
    assert.equal(childStart.parentWorkflowExecution?.workflowId, log.workflowId);
    const parent = kinds(await historyOf(log.workflowId));
    assert.ok(parent.indexOf('workflowExecutionUpdateCompletedEventAttributes') < parent.indexOf('startChildWorkflowExecutionInitiatedEventAttributes'));
    assert.equal(parent.at(-1), 'workflowExecutionCompletedEventAttributes');
  });

  it('shadow.judgeModel: one pairwise call of that model scores both answers blind, its scores mapped back', async () => {
    const sink = new MemorySink();
    for (const requestId of ['pair-a', 'pair-b', 'pair-c', 'pair-d']) {
      const sample = await route({ requestId, prompt: 'Classify the intent: "where is my parcel?"', taskType: 'classification' }, { shadow: { sampleRate: 1, judgeModel: PAIR_JUDGE }, sink }, (log) => shadowHandle(log).result());
      assert.deepEqual([sample.judgeModel, sample.routedScore, sample.bestScore], [PAIR_JUDGE, 0.6, 0.9], requestId);
      assert.equal(sample.routedShownFirst, routedShownFirst(requestId));
      const pairCalls = calls(PAIR_JUDGE);
      assert.equal(pairCalls.length, 1);
      const shown = pairCalls[0]!.messages.map((m) => m.content).join('\n');
      assert.equal(/<answer id="first">\nanswer from small-model/.test(shown), sample.routedShownFirst, 'the routed answer stood where the sample says');
      assert.ok(!/routed|best model|strongest/i.test(shown), 'nothing tells the judge which answer is whose');
      // The best call plus one pair-judge call of 200 / 20 tokens at $0.2/$0.8 per 1M.
      close(sample.costUsd, LARGE_CALL + (200 * 0.2 + 20 * 0.8) / 1e6, 'the shadow\'s costUsd');
      close(sink.logs.get(requestId)!.costUsd, REQUEST_COST, 'the request\'s costUsd');
    }
    // Four requests, both orders among them (pair-c is shown best-first, the others routed-first).
    assert.equal(new Set([...sink.samples.values()].map((s) => s.routedShownFirst)).size, 2);
  });

  it('with the worker\'s own decision log (SQLite through its writer thread), the sample lands in shadow_sample and the report reads it', async () => {
    const path = join(dir, 'shadow-decisions.sqlite');
    const writer = new DecisionLogWriter(path);
    const logs: DecisionLog[] = [];
    for (const requestId of ['stored-a', 'stored-b']) {
      logs.push(await route({ requestId, prompt: 'Classify the intent: "where is my parcel?"', taskType: 'classification' }, { shadow: { sampleRate: 1, judgeModel: PAIR_JUDGE }, sink: writer }, async (log) => {
        await shadowHandle(log).result();
        return log;
      }));
    }
    await writer.close();
    const { report } = await loadReport(path, 'test', { groupBy: 'strategy', filter: {} });
    // The pair judge scores the routed answer 6 and the best one 9 on every request.
    assert.equal(report.totals.qualityRetention?.samples, 2);
    close(report.totals.qualityRetention!.estimate, 0.6 / 0.9, 'retention from the stored samples');
    close(report.totals.shadowCostUsd, 2 * (LARGE_CALL + (200 * 0.2 + 20 * 0.8) / 1e6), 'shadow cost, apart');
    close(report.totals.costUsd, logs.reduce((sum, l) => sum + l.costUsd, 0), 'routed cost without the shadows');
  });

  it('a race whose best-model partner answered but was not kept: its answer is reused, not bought again', async () => {
    const sink = new MemorySink();
    // The routed answer comes late, so the partner has answered before the routed one passes and the race is called off.
    const sample = await route(
      { requestId: 'shadow-raced', prompt: 'Classify the intent: "my card was charged twice"', taskType: 'classification' },
      { shadow: { sampleRate: 1 }, speculative: { whenConfidenceBelow: 0.9, partner: 'best', prefer: 'cost' }, script: { 'small-model': () => ({ delayMs: 1_500, json: chatCompletion('small-model', 'answer from small-model', ANSWER_USAGE) }) }, sink },
      async (log) => {
        assert.deepEqual(log.attempts.map((a) => [a.model, a.status]), [['small-model', 'completed'], ['large-model', 'completed']]);
        assert.equal(log.finalModel, 'small-model');
        // The request paid for both answers and one gate judge call.
        close(log.costUsd, REQUEST_COST + LARGE_CALL, 'the request\'s costUsd');
        return shadowHandle(log).result();
      },
    );
    assert.equal(calls('large-model').length, 1, 'the best model was not asked again');
    assert.deepEqual([sample.routedScore, sample.bestScore], [1, 0.8]);
    close(sample.costUsd, (2 * (200 * 0.1 + 20 * 0.1)) / 1e6, 'the shadow\'s costUsd: the two judge calls only');
  });

  it('a best model that fails: the request answers as usual; the shadow run fails and writes no sample', async () => {
    const sink = new MemorySink();
    const large = (): Scripted => ({ status: 400, json: openAIError('model overloaded with nonsense') });
    const { log, failure } = await route({ requestId: 'shadow-fails', prompt: 'Classify the intent: "refund please"', taskType: 'classification' }, { shadow: { sampleRate: 1 }, script: { 'large-model': large }, sink }, async (log) => ({
      log,
      failure: await shadowHandle(log).result().then(() => undefined, (err: unknown) => err),
    }));
    assert.equal(log.answer, 'answer from small-model');
    close(log.costUsd, REQUEST_COST, 'the request\'s costUsd');
    assert.ok(failure instanceof WorkflowFailedError, String(failure));
    assert.equal(sink.samples.size, 0);
    assert.ok(sink.logs.has('shadow-fails'));
    assert.equal((await env.client.workflow.getHandle(log.workflowId).describe()).status.name, 'COMPLETED');
  });

  it('a best model that hangs: the request\'s result arrives while the shadow is still running', async () => {
    const sink = new MemorySink();
    await route({ requestId: 'shadow-hangs', prompt: 'Classify the intent: "cancel my order"', taskType: 'classification' }, { shadow: { sampleRate: 1 }, script: { 'large-model': () => HANGS }, sink }, async (log) => {
      try {
        assert.equal(log.answer, 'answer from small-model');
        assert.equal((await env.client.workflow.getHandle(log.workflowId).describe()).status.name, 'COMPLETED', 'the request run is over');
        // The shadow's call may not have reached the server yet when the request is over; then it hangs there.
        await waitFor('the shadow\'s call of the best model', () => calls('large-model').length > 0);
        assert.equal((await shadowHandle(log).describe()).status.name, 'RUNNING', 'its shadow is not');
        assert.equal(sink.samples.size, 0);
      } finally {
        // Left running, its call would be retried on the next test's worker (same task queue).
        await shadowHandle(log).terminate('test over');
      }
    });
  });

  it('no shadow, rate 0, or a kept answer from the best model: no marker and no child in the request\'s history', async () => {
    const sink = new MemorySink();
    const cases: [string, Shadow | undefined, RouteRequestInput['taskType']][] = [
      ['no-shadow', undefined, 'classification'],
      ['rate-zero', { sampleRate: 0 }, 'classification'],
      // Reasoning goes to the large tier, which is the best model: nothing to compare.
      ['kept-best', { sampleRate: 1 }, 'reasoning'],
    ];
    for (const [requestId, shadow, taskType] of cases) {
      const log = await route({ requestId, prompt: 'Work out how many parcels are late.', taskType }, { ...(shadow && { shadow }), sink }, async (log) => log);
      const events = await historyOf(log.workflowId);
      const markers = events.flatMap((e) => (e.markerRecordedEventAttributes?.markerName === 'core_patch' ? [Buffer.from(e.markerRecordedEventAttributes.details!['patch-data']!.payloads![0]!.data!).toString('utf8')] : []));
      assert.ok(!markers.some((m) => m.includes('shadow-evaluation')), `${requestId}: ${markers.join(', ')}`);
      assert.ok(!kinds(events).includes('startChildWorkflowExecutionInitiatedEventAttributes'), requestId);
      assert.equal(calls('large-model').length, taskType === 'reasoning' ? 1 : 0, requestId);
    }
    assert.equal(sink.samples.size, 0);
  });
});
