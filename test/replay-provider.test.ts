import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import type { ModelSpec } from '../src/domain/catalog';
import {
  REPLAY_TASK_DEFAULT_OUTPUT_TOKENS,
  ReplayProvider,
  loadOutcomeRows,
  loadPriceTable,
  recordedCostUsd,
  rowInputTokens,
  rowOutputTokens,
} from '../src/providers/replay';
import { ProviderError, type CompletionRequest } from '../src/providers/types';
import { estimateTokens } from '../src/domain/cost';

function spec(id: string, extra: Partial<ModelSpec> = {}): ModelSpec {
  return {
    id,
    provider: 'replay',
    tier: 1,
    tierName: 'small',
    inputUsdPer1M: 1,
    outputUsdPer1M: 2,
    contextWindow: 128_000,
    timeouts: { startToCloseMs: 60_000, scheduleToCloseMs: 300_000 },
    ...extra,
  };
}

function request(requestId: string, model: ModelSpec, overrides: Partial<CompletionRequest> = {}): CompletionRequest {
  return { requestId, attempt: 1, model, prompt: 'ignored by replay', history: [], taskType: 'qa', domain: 'general', expectedOutputTokens: 50, ...overrides };
}

const dir = mkdtempSync(join(tmpdir(), 'replay-provider-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function writeJsonl(name: string, lines: unknown[]): string {
  const path = join(dir, name);
  writeFileSync(path, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  return path;
}

const rowA = {
  id: 'arc.1',
  source: 'routerbench',
  task: 'arc-challenge',
  category: null,
  prompt: 'Which is a metal?\nA) wood\nB) iron\nAnswer:',
  history: [],
  outcomes: {
    'gpt-4-1106-preview': { quality: 1, costUsd: 0.00123, outputChars: 1 },
    'mistralai/mixtral-8x7b-chat': { quality: 0, costUsd: 0.00004, outputChars: 7 },
  },
};
const rowB = {
  id: 'mtbench.81.t2',
  source: 'routellm',
  task: 'mt_bench',
  category: 'writing',
  prompt: 'Rewrite your previous response. Start every sentence with the letter A.',
  history: ['Compose an engaging travel blog post about a recent trip to Hawaii.'],
  outcomes: {
    'gpt-4-1106-preview': { quality: 1, costUsd: null, outputChars: null },
    'mistralai/mixtral-8x7b-chat': { quality: 0.9, costUsd: null, outputChars: null },
  },
  contaminated: true,
};
const rowC = {
  id: 'gsm8k.0',
  source: 'routellm',
  task: 'gsm8k',
  category: null,
  prompt: 'Janet has 16 eggs and eats 3. How many are left?',
  history: [],
  outcomes: { 'gpt-4-1106-preview': { quality: 1, costUsd: null, outputChars: 262 } },
  contaminated: false,
};

const prices = [
  { id: 'gpt-4-1106-preview', inputUsdPer1M: 10, outputUsdPer1M: 30 },
  { id: 'mistralai/mixtral-8x7b-chat', inputUsdPer1M: 0.6, outputUsdPer1M: 0.6 },
];

describe('ReplayProvider', () => {
  const fileA = writeJsonl('a.jsonl', [rowA, '', rowB]);
  const fileC = writeJsonl('c.jsonl', [rowC]);
  const provider = ReplayProvider.fromFiles([fileA, fileC]);

  test('loads rows from several files, keeping extra keys', () => {
    const rows = loadOutcomeRows([fileA, fileC]);
    assert.deepEqual(rows.map((r) => r.id), ['arc.1', 'mtbench.81.t2', 'gsm8k.0']);
    assert.equal(rows[1]!['contaminated'], true);
    assert.equal(provider.size, 3);
  });

  test('answers a known row with the recorded quality, labelled as replayed', async () => {
    const c = await provider.complete(request('arc.1', spec('mistralai/mixtral-8x7b-chat')));
    assert.equal(c.origin, 'replayed');
    assert.equal(c.recordedQuality, 0);
    assert.match(c.text, /^\[replayed mistralai\/mixtral-8x7b-chat from routerbench\/arc\.1\]/);
    assert.equal(c.inputTokens, estimateTokens(rowA.prompt));
    assert.equal(c.outputTokens, 2); // 7 chars / 4, rounded up
    assert.ok(c.latencyMs > 0);

    const b = await provider.complete(request('mtbench.81.t2', spec('gpt-4-1106-preview')));
    assert.equal(b.recordedQuality, 1);
    assert.equal(b.inputTokens, estimateTokens(rowB.prompt + rowB.history[0]));
    assert.equal(b.outputTokens, REPLAY_TASK_DEFAULT_OUTPUT_TOKENS['mt_bench']); // no outputChars recorded
    assert.match(b.text, /^\[replayed gpt-4-1106-preview from routellm\/mtbench\.81\.t2\]/);

    const g = await provider.complete(request('gsm8k.0', spec('gpt-4-1106-preview')));
    assert.equal(g.outputTokens, Math.ceil(262 / 4));
  });

  test('finds the recorded model through providerModel when the catalog id differs', async () => {
    const c = await provider.complete(request('mtbench.81.t2', spec('small', { providerModel: 'mistralai/mixtral-8x7b-chat' })));
    assert.equal(c.recordedQuality, 0.9);
  });

  test('an unknown request id is an invalid-request ProviderError naming the id', async () => {
    await assert.rejects(provider.complete(request('no-such-row', spec('gpt-4-1106-preview'))), (err) => {
      assert.ok(err instanceof ProviderError);
      assert.equal(err.kind, 'invalid-request');
      assert.match(err.message, /no-such-row/);
      return true;
    });
  });

  test('a model missing from the row is an invalid-request ProviderError naming the model and the row', async () => {
    await assert.rejects(provider.complete(request('gsm8k.0', spec('mistralai/mixtral-8x7b-chat'))), (err) => {
      assert.ok(err instanceof ProviderError);
      assert.equal(err.kind, 'invalid-request');
      assert.match(err.message, /mistralai\/mixtral-8x7b-chat/);
      assert.match(err.message, /gsm8k\.0/);
      return true;
    });
  });

  test('honours an aborted signal', async () => {
    const controller = new AbortController();
    const reason = new Error('cancelled');
    controller.abort(reason);
    await assert.rejects(provider.complete(request('arc.1', spec('gpt-4-1106-preview'), { signal: controller.signal })), (err) => err === reason);
    const slow = ReplayProvider.fromFiles([fileA], { latencyScale: 1, latency: { timeToFirstTokenMs: 5_000, outputTokensPerSecond: 1 } });
    const live = new AbortController();
    setTimeout(() => live.abort(reason), 20);
    await assert.rejects(slow.complete(request('arc.1', spec('gpt-4-1106-preview'), { signal: live.signal })), (err) => err === reason);
  });

  test('a malformed line is an Error naming the file, the line and the field', () => {
    const bad = { ...rowC, id: 'gsm8k.1', outcomes: { 'gpt-4-1106-preview': { quality: 'high', costUsd: null, outputChars: 3 } } };
    const badFile = writeJsonl('bad.jsonl', [rowC, bad]);
    assert.throws(() => loadOutcomeRows([badFile]), (err: Error) => {
      assert.ok(err.message.includes(badFile), err.message);
      assert.match(err.message, /:2:/);
      assert.match(err.message, /outcomes\.gpt-4-1106-preview\.quality/);
      return true;
    });
    const missing = writeJsonl('missing.jsonl', [{ ...rowC, prompt: undefined }]);
    assert.throws(() => loadOutcomeRows([missing]), /missing\.jsonl:1: field "prompt"/);
    const notJson = writeJsonl('notjson.jsonl', [rowA, rowB, '{"id": "x", ']);
    assert.throws(() => ReplayProvider.fromFiles([notJson]), /notjson\.jsonl:3: not valid JSON/);
    const dup = writeJsonl('dup.jsonl', [rowA]);
    assert.throws(() => loadOutcomeRows([fileA, dup]), /dup\.jsonl:1: field "id": duplicate row id "arc\.1"/);
  });

  test('recordedCostUsd: the recorded cost when present, else tokens priced from the table', () => {
    const [a, b, c] = loadOutcomeRows([fileA, fileC]);
    assert.equal(recordedCostUsd(a!, 'gpt-4-1106-preview', prices), 0.00123);
    assert.equal(recordedCostUsd(a!, 'mistralai/mixtral-8x7b-chat', []), 0.00004);

    const inB = estimateTokens(rowB.prompt + rowB.history[0]);
    assert.equal(rowInputTokens(b!), inB);
    assert.equal(rowOutputTokens(b!, 'gpt-4-1106-preview'), 400);
    assert.equal(recordedCostUsd(b!, 'gpt-4-1106-preview', prices), (inB * 10 + 400 * 30) / 1_000_000);
    assert.equal(recordedCostUsd(b!, 'mistralai/mixtral-8x7b-chat', new Map([['mistralai/mixtral-8x7b-chat', { inputUsdPer1M: 0.6, outputUsdPer1M: 0.6 }]])), ((inB + 400) * 0.6) / 1_000_000);

    const inC = estimateTokens(rowC.prompt);
    assert.equal(recordedCostUsd(c!, 'gpt-4-1106-preview', prices), (inC * 10 + Math.ceil(262 / 4) * 30) / 1_000_000);

    assert.throws(() => recordedCostUsd(b!, 'gpt-4-1106-preview', []), /no price for model "gpt-4-1106-preview"/);
    assert.throws(() => recordedCostUsd(c!, 'claude-v2', prices), ProviderError);
  });
});

describe('ReplayProvider on the shared recorded data', () => {
  // test/ -> repo root -> ../shared/data
  const dataDir = resolve(__dirname, '..', '..', 'shared', 'data');

  test('loads routerbench/train.jsonl fully and answers a row', async () => {
    const file = join(dataDir, 'routerbench', 'train.jsonl');
    assert.ok(
      existsSync(file),
      `recorded outcome data not found at ${file}: this test needs ../shared/data next to the repository (see DESIGN.md, "Outcome data format")`,
    );
    const rows = loadOutcomeRows([file]);
    assert.equal(rows.length, 2212);
    const provider = new ReplayProvider(rows);
    const row = rows.find((r) => r.outcomes['gpt-4-1106-preview'] && r.task === 'mbpp')!;
    const c = await provider.complete(request(row.id, spec('gpt-4-1106-preview')));
    assert.equal(c.origin, 'replayed');
    assert.equal(c.recordedQuality, row.outcomes['gpt-4-1106-preview']!.quality);
    assert.equal(c.outputTokens, Math.ceil(row.outcomes['gpt-4-1106-preview']!.outputChars! / 4));
    assert.match(c.text, new RegExp(`^\\[replayed gpt-4-1106-preview from routerbench/${row.id.replace(/\./g, '\\.')}\\]`));

    const modelsFile = join(dataDir, 'models.json');
    const table = loadPriceTable(modelsFile);
    assert.equal(recordedCostUsd(row, 'gpt-4-1106-preview', table), row.outcomes['gpt-4-1106-preview']!.costUsd);
  });
});
