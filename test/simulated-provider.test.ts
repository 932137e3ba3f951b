import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ModelSpec } from '../src/domain/catalog';
import { TASK_TYPES, type OutputSchema, type TaskType } from '../src/domain/request';
import { SIMULATED_PROFILES, SimulatedProvider, promptChars } from '../src/providers/simulated';
import { ProviderError, type CompletionRequest } from '../src/providers/types';
import { estimateTokens } from '../src/domain/cost';

function spec(id: string, tier: number, tierName: ModelSpec['tierName']): ModelSpec {
  return {
    id,
    provider: 'simulated',
    tier,
    tierName,
    inputUsdPer1M: 1,
    outputUsdPer1M: 2,
    contextWindow: 128_000,
    timeouts: { startToCloseMs: 60_000, scheduleToCloseMs: 300_000 },
  };
}
const small = spec('gpt-4o-mini', 1, 'small');
const medium = spec('gpt-4.1-mini', 2, 'medium');
const large = spec('gpt-4o', 3, 'large');
const LADDER = [small, medium, large];

function request(overrides: Partial<CompletionRequest> = {}): CompletionRequest {
  return {
    requestId: 'req-1',
    attempt: 1,
    model: small,
    prompt: 'Is this review positive or negative? "Great value."',
    history: [],
    taskType: 'classification',
    domain: 'general',
    expectedOutputTokens: 8,
    ...overrides,
  };
}

const ids = (n: number, prefix = 'req') => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

const schema: OutputSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    amount: { type: 'number' },
    count: { type: 'integer' },
    urgent: { type: 'boolean' },
    tags: { type: 'array' },
    meta: { type: 'object' },
  },
  required: ['name', 'amount', 'count'],
};

/** An independent check of an answer against the schema: every required property present with its declared type. */
function schemaProblems(text: string, s: OutputSchema): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return ['not JSON'];
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return ['not an object'];
  const obj = parsed as Record<string, unknown>;
  const problems: string[] = [];
  const typeOk = (t: string, v: unknown) =>
    t === 'string' ? typeof v === 'string'
    : t === 'number' ? typeof v === 'number'
    : t === 'integer' ? Number.isInteger(v)
    : t === 'boolean' ? typeof v === 'boolean'
    : t === 'array' ? Array.isArray(v)
    : typeof v === 'object' && v !== null && !Array.isArray(v);
  for (const [name, field] of Object.entries(s.properties)) {
    if (!(name in obj)) {
      if (s.required.includes(name)) problems.push(`${name} missing`);
    } else if (!typeOk(field.type, obj[name])) problems.push(`${name} has the wrong type`);
  }
  return problems;
}

describe('SimulatedProvider', () => {
  const provider = new SimulatedProvider({ latencyScale: 0 });

  test('is deterministic per (requestId, model), across instances and attempts', async () => {
    const other = new SimulatedProvider({ latencyScale: 0 });
    for (const model of LADDER) {
      for (const taskType of ['classification', 'generation', 'code'] as const) {
        const a = await provider.complete(request({ requestId: 'det-7', model, taskType }));
        const b = await other.complete(request({ requestId: 'det-7', model, taskType, attempt: 3 }));
        assert.deepEqual(a, b);
      }
    }
    const x = await provider.complete(request({ requestId: 'det-1', model: large, taskType: 'generation' }));
    const y = await provider.complete(request({ requestId: 'det-2', model: large, taskType: 'generation' }));
    assert.notEqual(x.text, y.text);
  });

  test('labels everything as simulated and reports tokens, latency and quality', async () => {
    const history = [{ role: 'user' as const, content: 'Earlier question about invoices.' }];
    const prompt = 'Summarise the thread in two sentences.';
    const c = await provider.complete(request({ model: medium, taskType: 'summarization', prompt, history }));
    assert.equal(c.origin, 'simulated');
    assert.match(c.text, /^\[simulated gpt-4\.1-mini\] /);
    assert.equal(c.inputTokens, estimateTokens(prompt + history[0]!.content));
    assert.equal(promptChars(prompt, history), prompt.length + history[0]!.content.length);
    assert.ok(c.outputTokens >= 1);
    assert.ok(c.latencyMs > 0);
    assert.ok(c.recordedQuality !== undefined && c.recordedQuality >= 0.2 && c.recordedQuality <= 1);
    // Output length follows the profile (mean chars / 4, jittered by at most 25%).
    const mean = SIMULATED_PROFILES['gpt-4.1-mini']!.tasks.summarization.outputChars / 4;
    assert.ok(c.outputTokens >= Math.floor(mean * 0.75) && c.outputTokens <= Math.ceil(mean * 1.25), `${c.outputTokens} vs mean ${mean}`);
  });

  test('quality is in [0.95, 1] on a pass and in [0.2, 0.85] on a failure', () => {
    for (const id of ids(300)) {
      for (const model of LADDER) {
        const o = provider.preview(id, model, 'qa', 'general', 100);
        if (o.passes) assert.ok(o.quality >= 0.95 && o.quality <= 1, `${id} ${o.quality}`);
        else assert.ok(o.quality >= 0.2 && o.quality <= 0.85, `${id} ${o.quality}`);
      }
    }
  });

  test('is monotone: over 500 request ids, whenever a weaker tier passes every stronger tier passes too', () => {
    for (const taskType of TASK_TYPES) {
      for (const domain of ['general', 'medical', 'legal', 'finance']) {
        for (const id of ids(500, `mono-${taskType}-${domain}`)) {
          const [s, m, l] = LADDER.map((model) => provider.preview(id, model, taskType, domain, 200).passes);
          if (s) assert.ok(l, `${id}: gpt-4o-mini passes but gpt-4o fails (${taskType}/${domain})`);
          if (s) assert.ok(m, `${id}: gpt-4o-mini passes but gpt-4.1-mini fails (${taskType}/${domain})`);
          if (m) assert.ok(l, `${id}: gpt-4.1-mini passes but gpt-4o fails (${taskType}/${domain})`);
        }
      }
    }
  });

  test('pass rates over many request ids are within ±0.05 of the profile', () => {
    const n = 4000;
    for (const model of LADDER) {
      for (const taskType of TASK_TYPES) {
        const passes = ids(n, 'rate').filter((id) => provider.preview(id, model, taskType, 'general', 100).passes).length;
        const expected = SIMULATED_PROFILES[model.id]!.tasks[taskType].passRate;
        assert.ok(Math.abs(passes / n - expected) <= 0.05, `${model.id}/${taskType}: ${passes / n} vs profile ${expected}`);
      }
    }
  });

  test('high-risk domains scale the pass rate by the fitted multiplier', () => {
    const n = 4000;
    for (const [domain, alias] of [['legal', 'Legal'], ['medical', 'healthcare']] as const) {
      const expected = Math.min(1, SIMULATED_PROFILES['gpt-4o']!.tasks.qa.passRate * SIMULATED_PROFILES['gpt-4o']!.domains[domain]!.multiplier);
      const rate = ids(n, 'dom').filter((id) => provider.preview(id, large, 'qa', alias, 100).passes).length / n;
      assert.ok(Math.abs(rate - expected) <= 0.05, `${domain}: ${rate} vs ${expected}`);
      assert.equal(provider.preview('dom-1', large, 'qa', alias, 100).passRate, expected);
    }
    assert.equal(provider.preview('x', large, 'qa', 'retail', 100).passRate, SIMULATED_PROFILES['gpt-4o']!.tasks.qa.passRate);
  });

  test('preview() matches complete() and prices tokens for a ModelSpec', async () => {
    for (const id of ids(20, 'pv')) {
      const req = request({ requestId: id, model: large, taskType: 'extraction', outputSchema: schema, prompt: 'Extract the invoice fields.' });
      const c = await provider.complete(req);
      const p = provider.preview(id, large, 'extraction', 'general', req.prompt.length, schema);
      assert.equal(c.text, p.text);
      assert.equal(c.recordedQuality, p.quality);
      assert.equal(c.inputTokens, p.inputTokens);
      assert.equal(c.outputTokens, p.outputTokens);
      assert.equal(c.latencyMs, p.latencyMs);
      assert.equal(p.costUsd, (p.inputTokens * 1 + p.outputTokens * 2) / 1_000_000);
      assert.equal(provider.preview(id, 'gpt-4o', 'extraction', 'general', req.prompt.length).costUsd, undefined);
    }
  });

  test('schema answers are valid JSON objects on a pass and miss a required property on a failure', async () => {
    let seenPass = 0;
    let seenFail = 0;
    for (const id of ids(60, 'schema')) {
      const c = await provider.complete(request({ requestId: id, model: small, taskType: 'extraction', outputSchema: schema }));
      const passes = c.recordedQuality! >= 0.95;
      const problems = schemaProblems(c.text, schema);
      if (passes) {
        seenPass++;
        assert.deepEqual(problems, [], `${id}: ${c.text}`);
        assert.match(c.text, /\[simulated gpt-4o-mini\]/);
      } else {
        seenFail++;
        assert.deepEqual(problems, ['name missing'], `${id}: ${c.text}`);
      }
    }
    assert.ok(seenPass > 0 && seenFail > 0, `needs both outcomes (pass ${seenPass}, fail ${seenFail})`);
    // With nothing required, a failing answer gets a mistyped field instead.
    const loose: OutputSchema = { type: 'object', properties: { title: { type: 'string' } }, required: [] };
    const failing = ids(100, 'loose').find((id) => !provider.preview(id, small, 'extraction', 'general', 10).passes)!;
    const c = await provider.complete(request({ requestId: failing, model: small, taskType: 'extraction', outputSchema: loose }));
    assert.deepEqual(schemaProblems(c.text, loose), ['title has the wrong type']);
  });

  test('classification answers are a short label, shared by every passing model', async () => {
    for (const id of ids(50, 'cls')) {
      const answers = await Promise.all(LADDER.map((model) => provider.complete(request({ requestId: id, model }))));
      const labels = answers.map((a) => a.text.replace(/^\[simulated [^\]]+\] /, ''));
      for (const l of labels) assert.match(l, /^[A-D]$/);
      const passing = labels.filter((_, i) => answers[i]!.recordedQuality! >= 0.95);
      assert.ok(new Set(passing).size <= 1, `${id}: passing labels differ: ${passing}`);
      answers.forEach((a, i) => {
        if (a.recordedQuality! < 0.95 && passing.length > 0) assert.notEqual(labels[i], passing[0]);
      });
    }
  });

  test('sleeps latencyMs x latencyScale and rejects with the abort reason when cancelled', async () => {
    const slow = new SimulatedProvider({ latencyScale: 1 });
    const controller = new AbortController();
    const reason = new Error('activity cancelled');
    setTimeout(() => controller.abort(reason), 20);
    // Without the abort the call would sleep its simulated seconds and resolve; it must reject with the reason.
    await assert.rejects(slow.complete(request({ model: large, taskType: 'generation', signal: controller.signal })), (err) => err === reason);

    const already = new AbortController();
    already.abort(reason);
    await assert.rejects(provider.complete(request({ signal: already.signal })), (err) => err === reason);

    const quick = new SimulatedProvider({ latencyScale: 0.001 });
    const c = await quick.complete(request({ signal: new AbortController().signal }));
    assert.equal(c.origin, 'simulated');
  });

  test('reports the tokens streamed before an abort, as a streaming provider would: none before the first token', async () => {
    const slow = new SimulatedProvider({ latencyScale: 0.1 });
    const req = request({ model: large, taskType: 'generation' });
    const full = slow.preview(req.requestId, large, 'generation', 'general', promptChars(req.prompt));
    const streamedAfter = async (ms: number) => {
      const controller = new AbortController();
      let usage: { inputTokens: number; outputTokens: number } | undefined;
      setTimeout(() => controller.abort(new Error('cancelled')), ms);
      await assert.rejects(slow.complete({ ...req, signal: controller.signal, onUsage: (u) => (usage = u) }));
      return usage;
    };
    const midway = await streamedAfter(((full.firstTokenMs + full.latencyMs) / 2) * 0.1);
    assert.equal(midway?.inputTokens, full.inputTokens);
    assert.ok(midway!.outputTokens > 0 && midway!.outputTokens < full.outputTokens, `${midway!.outputTokens} of ${full.outputTokens} tokens`);
    assert.deepEqual(await streamedAfter(1), { inputTokens: full.inputTokens, outputTokens: 0 });
  });

  test('an unknown model is an invalid-request ProviderError naming it and the known models', async () => {
    const unknown = spec('gpt-9000', 4, 'large');
    await assert.rejects(provider.complete(request({ model: unknown })), (err) => {
      assert.ok(err instanceof ProviderError);
      assert.equal(err.kind, 'invalid-request');
      assert.match(err.message, /gpt-9000/);
      for (const known of ['gpt-4o-mini', 'gpt-4.1-mini', 'gpt-4o']) assert.ok(err.message.includes(known), err.message);
      return true;
    });
    assert.throws(() => provider.preview('r', 'nope', 'qa', 'general', 10), ProviderError);
    // A catalog id the simulator does not know still resolves through providerModel.
    const aliased = { ...spec('my-small', 1, 'small'), providerModel: 'gpt-4o-mini' };
    const c = await provider.complete(request({ model: aliased }));
    assert.match(c.text, /^\[simulated gpt-4o-mini\]/);
  });

  test('injected failures are deterministic per attempt and let retries through', async () => {
    const flaky = new SimulatedProvider({ latencyScale: 0, failures: { rate: 0.5, kind: 'rate-limited' } });
    let failed = 0;
    for (const id of ids(40, 'flaky')) {
      let attempt = 1;
      for (; attempt <= 30; attempt++) {
        try {
          await flaky.complete(request({ requestId: id, attempt }));
          break;
        } catch (err) {
          assert.ok(err instanceof ProviderError && err.kind === 'rate-limited');
          await assert.rejects(flaky.complete(request({ requestId: id, attempt })), ProviderError);
          failed++;
        }
      }
      assert.ok(attempt <= 30, `${id} never succeeded`);
    }
    assert.ok(failed > 5, `expected some injected failures, got ${failed}`);
  });

  test('every catalog task type has a profile for every known model', () => {
    for (const model of SimulatedProvider.knownModels()) {
      for (const t of TASK_TYPES as readonly TaskType[]) {
        const p = SIMULATED_PROFILES[model]!.tasks[t];
        assert.ok(p.passRate > 0 && p.passRate <= 1 && p.n > 0 && p.outputChars > 0, `${model}/${t}`);
      }
    }
  });
});
