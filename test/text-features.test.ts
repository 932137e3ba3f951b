import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FeatureSettingsSchema } from '../src/domain/classifierArtefact';
import { RouteRequestSchema, type RouteRequestInput } from '../src/domain/request';
import type { RequestFeatures } from '../src/domain/results';
import { parseOrThrow } from '../src/domain/validation';
import { extractFeatures } from '../src/routing/features';
import {
  DEFAULT_FEATURE_SETTINGS,
  DENSE_FEATURE_NAMES,
  TEXT_OFFSET,
  featureDimension,
  featurize,
  textSegments,
  type FeatureSettings,
  type SparseVector,
} from '../src/routing/textFeatures';

function request(input: Partial<RouteRequestInput> & { prompt: string }) {
  return RouteRequestSchema.parse({ requestId: 'r-1', ...input });
}

function vectorOf(input: Partial<RouteRequestInput> & { prompt: string }, settings: FeatureSettings = DEFAULT_FEATURE_SETTINGS): SparseVector {
  const r = request(input);
  return featurize(r, extractFeatures(r), settings);
}

function textBlock(v: SparseVector): { indices: number[]; values: number[] } {
  const at = v.indices.findIndex((j) => j >= TEXT_OFFSET);
  return at < 0 ? { indices: [], values: [] } : { indices: v.indices.slice(at), values: v.values.slice(at) };
}

function norm(values: readonly number[]): number {
  return Math.sqrt(values.reduce((s, v) => s + v * v, 0));
}

/** Every vector the router builds must be well-formed: sorted unique in-range slots, finite non-zero values. */
function assertWellFormed(v: SparseVector, settings: FeatureSettings = DEFAULT_FEATURE_SETTINGS): void {
  assert.equal(v.indices.length, v.values.length);
  for (let i = 0; i < v.indices.length; i++) {
    assert.ok(Number.isInteger(v.indices[i]) && v.indices[i]! >= 0 && v.indices[i]! < featureDimension(settings), `index ${v.indices[i]} in range`);
    if (i > 0) assert.ok(v.indices[i]! > v.indices[i - 1]!, 'indices strictly increasing');
    assert.ok(Number.isFinite(v.values[i]) && v.values[i] !== 0, `value ${v.values[i]} finite and non-zero`);
  }
}

describe('featurize', () => {
  test('the hashing scheme is pinned: a change would silently break every trained artefact', () => {
    // "hello", ",", "world", "!": four unigrams of weight 1, normalised to 0.5 each.
    const v = vectorOf({ prompt: 'Hello, world!' });
    const block = textBlock(v);
    assert.deepEqual({ slots: block.indices.map((j) => j - TEXT_OFFSET), values: block.values }, { slots: [7161, 24812, 27871, 31859], values: [0.5, 0.5, 0.5, 0.5] });
  });

  test('customer tier and time sensitivity are features; their defaults add nothing', () => {
    const slot = (name: string) => DENSE_FEATURE_NAMES.indexOf(name);
    const valueAt = (v: SparseVector, j: number) => v.values[v.indices.indexOf(j)] ?? 0;
    const plain = vectorOf({ prompt: 'Where is my parcel?' });
    assert.equal(valueAt(plain, slot('customer tier')), 0);
    assert.equal(valueAt(plain, slot('time sensitivity')), 0);
    const urgent = vectorOf({ prompt: 'Where is my parcel?', customerTier: 'enterprise', timeSensitivity: 'high' });
    assert.ok(valueAt(urgent, slot('customer tier')) > 0);
    assert.ok(valueAt(urgent, slot('time sensitivity')) > 0);
    const free = vectorOf({ prompt: 'Where is my parcel?', customerTier: 'free', timeSensitivity: 'low' });
    assert.ok(valueAt(free, slot('customer tier')) < 0 && valueAt(free, slot('time sensitivity')) < 0);
  });

  test('identical prompts give identical vectors, whatever the request id', () => {
    const prompt = 'Explain why the sky is blue, step by step.';
    assert.deepEqual(vectorOf({ prompt, requestId: 'a' }), vectorOf({ prompt, requestId: 'b-2' }));
  });

  test('indices are sorted and unique, and the text block has unit L2 norm', () => {
    const prompts = [
      'Summarise the following contract clause. The clause the clause the clause repeats itself.',
      'def f(x):\n    return x ** 2  # square it\n',
      'a',
      'Answer:\nA\n\nAnswer:\nB\n\nAnswer:',
    ];
    for (const prompt of prompts) {
      const v = vectorOf({ prompt });
      assertWellFormed(v);
      assert.ok(Math.abs(norm(textBlock(v).values) - 1) < 1e-12, `text norm of ${JSON.stringify(prompt)}`);
    }
  });

  test('empty history and a history: the history adds text features, the prompt keeps its own', () => {
    const prompt = 'And what about the second one?';
    const alone = vectorOf({ prompt, history: [] });
    const withHistory = vectorOf({ prompt, history: [{ role: 'user', content: 'Compare Rust and Go for networking.' }, { role: 'assistant', content: 'Both are fine.' }] });
    assertWellFormed(alone);
    assertWellFormed(withHistory);
    const textAlone = new Set(textBlock(alone).indices);
    const textWith = new Set(textBlock(withHistory).indices);
    assert.ok([...textAlone].every((j) => textWith.has(j)), 'every prompt n-gram is still there');
    assert.ok(textWith.size > textAlone.size, 'history n-grams are added');
    const turns = DENSE_FEATURE_NAMES.indexOf('conversation turns');
    assert.equal(alone.indices.includes(turns), false, 'no turns: the slot is zero and omitted');
    assert.ok(Math.abs(withHistory.values[withHistory.indices.indexOf(turns)]! - Math.log1p(2) / 5) < 1e-12);
  });

  test('a huge prompt costs only its head and tail: the middle does not change the vector', () => {
    const head = 'Read the log below and tell me which service failed first. ';
    const tail = ' Which service failed first?';
    const pad = 'a '.repeat(3_000);
    const a = vectorOf({ prompt: head + pad + 'first middle '.repeat(25_000) + pad + tail });
    const b = vectorOf({ prompt: head + pad + 'other middle '.repeat(25_000) + pad + tail });
    assertWellFormed(a);
    assert.deepEqual(textBlock(a), textBlock(b));
    assert.ok(Math.abs(norm(textBlock(a).values) - 1) < 1e-12);
    // The token count still sees the whole prompt.
    assert.ok(a.values[a.indices.indexOf(DENSE_FEATURE_NAMES.indexOf('log prompt tokens'))]! > Math.log1p(50_000) / 10);
  });

  test('history over the budget keeps its most recent characters', () => {
    const settings = { ...DEFAULT_FEATURE_SETTINGS, maxTextChars: 100 };
    const segments = textSegments(
      { prompt: 'Q'.repeat(40), history: [{ role: 'user', content: 'OLD '.repeat(50) }, { role: 'assistant', content: 'recent answer' }] },
      settings,
    );
    assert.equal(segments.join('').length, 100);
    assert.equal(segments[segments.length - 1], 'q'.repeat(40));
    assert.equal(segments[segments.length - 2], 'recent answer');
    assert.equal(segments[0], 'OLD '.repeat(50).slice(-47).toLowerCase(), 'the older turn keeps its last 100 - 40 - 13 characters');
  });

  test('unicode and emoji: letters of any script are words, emoji are tokens, and they are told apart', () => {
    const a = vectorOf({ prompt: 'Übersetze: 東京は大きい 😀' });
    const b = vectorOf({ prompt: 'Übersetze: 東京は大きい 😢' });
    assertWellFormed(a);
    assertWellFormed(b);
    assert.equal(textBlock(a).indices.length, 4, '"übersetze", ":", "東京は大きい", "😀"');
    assert.notDeepEqual(textBlock(a), textBlock(b));
    assert.deepEqual(vectorOf({ prompt: 'ÜBERSETZE: 東京は大きい 😀' }), a, 'case-folded');
  });

  test('a prompt of only punctuation still has a unit-norm text block', () => {
    const v = vectorOf({ prompt: '?!?!... ;;; ---' });
    assertWellFormed(v);
    assert.ok(textBlock(v).indices.length > 0);
    assert.ok(Math.abs(norm(textBlock(v).values) - 1) < 1e-12);
  });

  test('repeated words weigh 1 + ln(tf) with sublinear TF, tf without', () => {
    const sub = textBlock(vectorOf({ prompt: 'spam spam spam spam eggs' }));
    const raw = textBlock(vectorOf({ prompt: 'spam spam spam spam eggs' }, { ...DEFAULT_FEATURE_SETTINGS, sublinearTf: false }));
    const ratio = (values: number[]) => Math.max(...values) / Math.min(...values);
    assert.ok(Math.abs(ratio(sub.values) - (1 + Math.log(4))) < 1e-12);
    assert.ok(Math.abs(ratio(raw.values) - 4) < 1e-12);
  });

  test('the structured features sit in their named slots', () => {
    const r = request({ prompt: 'Extract the patient name and dose.', taskType: 'extraction', domain: 'medical', fieldCount: 3, expectedOutputTokens: 99 });
    const features: RequestFeatures = extractFeatures(r);
    const v = featurize(r, features, DEFAULT_FEATURE_SETTINGS);
    const slot = (name: string) => {
      const j = DENSE_FEATURE_NAMES.indexOf(name);
      assert.ok(j >= 0 && j < TEXT_OFFSET, name);
      const at = v.indices.indexOf(j);
      return at < 0 ? 0 : v.values[at]!;
    };
    assert.equal(slot('complexity'), features.complexity);
    assert.equal(slot('log prompt tokens'), Math.log1p(features.promptTokens) / 10);
    assert.equal(slot('high-risk domain'), 1);
    assert.equal(slot('log expected output tokens'), Math.log1p(99) / 10);
    assert.equal(slot('field count'), Math.log1p(3) / 7);
    assert.equal(slot('task type extraction'), 1);
    assert.equal(slot('task type code'), 0);
    assert.equal(slot('reasoning markers'), 0);
    assert.equal(DENSE_FEATURE_NAMES.length, TEXT_OFFSET);
  });

  test('with character n-grams, words and characters share the unit norm', () => {
    const settings: FeatureSettings = { ...DEFAULT_FEATURE_SETTINGS, wordNgrams: [1, 2], charNgrams: [3, 5] };
    const v = vectorOf({ prompt: 'Refactor this function to be tail-recursive.' }, settings);
    assertWellFormed(v, settings);
    assert.ok(Math.abs(norm(textBlock(v).values) - 1) < 1e-12);
    assert.ok(textBlock(v).indices.length > textBlock(vectorOf({ prompt: 'Refactor this function to be tail-recursive.' })).indices.length * 5);
  });

  test('settings are validated: unknown version, inverted ranges and out-of-range hash bits are named', () => {
    assert.throws(() => parseOrThrow(FeatureSettingsSchema, { ...DEFAULT_FEATURE_SETTINGS, version: 2 }, 'feature settings'), /version: must be 1/);
    assert.throws(() => parseOrThrow(FeatureSettingsSchema, { ...DEFAULT_FEATURE_SETTINGS, wordNgrams: [3, 1] }, 'feature settings'), /wordNgrams: must be \[min, max\] with min <= max/);
    assert.throws(() => parseOrThrow(FeatureSettingsSchema, { ...DEFAULT_FEATURE_SETTINGS, hashBits: 40 }, 'feature settings'), /hashBits/);
    assert.deepEqual(parseOrThrow(FeatureSettingsSchema, DEFAULT_FEATURE_SETTINGS, 'feature settings'), DEFAULT_FEATURE_SETTINGS);
  });
});
