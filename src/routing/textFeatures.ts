import { DENSE_SLOT_COUNT, type FeatureSettings } from '../domain/classifierArtefact';
import { TASK_TYPES, type CustomerTier, type RouteRequest, type TimeSensitivity } from '../domain/request';
import type { RequestFeatures } from '../domain/results';

export type { FeatureSettings } from '../domain/classifierArtefact';

/*
 * The classifier's and the kNN router's feature vector: the seed's structured request features in fixed slots,
 * then a hashed bag of word (and optionally character) n-grams of the prompt and history. Hashing needs no
 * vocabulary, so featurizing is a pure function of the request and the settings, and the same in training, in the
 * offline evaluator and in the route activity.
 */

/** A sparse vector: indices strictly increasing, values non-zero. */
export interface SparseVector {
  indices: number[];
  values: number[];
}

/**
 * Word unigrams over 2^16 slots. Measured by 5-fold CV on RouterBench (mean AUC over 11 models): unigrams 0.654,
 * uni+bigrams 0.652 at 2-3× the training time, adding character 3-5-grams no better at 6× the time.
 */
export const DEFAULT_FEATURE_SETTINGS: FeatureSettings = {
  version: 1,
  hashBits: 16,
  wordNgrams: [1, 1],
  charNgrams: null,
  sublinearTf: true,
  maxTextChars: 8192,
};

/** Names of the structured slots, in slot order. Each value is scaled to roughly 0..1. */
export const DENSE_FEATURE_NAMES: readonly string[] = [
  'complexity',
  'log prompt tokens',
  'reasoning markers',
  'high-risk domain',
  'log expected output tokens',
  'conversation turns',
  'field count',
  'customer tier',
  'time sensitivity',
  ...TASK_TYPES.map((t) => `task type ${t}`),
];
if (DENSE_FEATURE_NAMES.length !== DENSE_SLOT_COUNT) throw new Error('DENSE_FEATURE_NAMES and DENSE_SLOT_COUNT disagree');

/** Where the hashed text block starts. */
export const TEXT_OFFSET = DENSE_SLOT_COUNT;

/** Total number of slots for the settings: the structured block plus 2^hashBits text slots. */
export function featureDimension(settings: FeatureSettings): number {
  return TEXT_OFFSET + 2 ** settings.hashBits;
}

// The defaults (standard, normal) are 0, so requests that do not set them add nothing to the vector.
const CUSTOMER_TIER_VALUE: Record<CustomerTier, number> = { free: -0.5, standard: 0, premium: 0.5, enterprise: 1 };
const TIME_SENSITIVITY_VALUE: Record<TimeSensitivity, number> = { low: -0.5, normal: 0, high: 1 };

export function denseValues(features: RequestFeatures): number[] {
  const values = [
    features.complexity,
    Math.log1p(features.promptTokens) / 10,
    Math.log1p(features.reasoningMarkers) / 3,
    features.domainRisk === 'high' ? 1 : 0,
    Math.log1p(features.expectedOutputTokens) / 10,
    Math.log1p(features.historyTurns) / 5,
    Math.log1p(features.fieldCount ?? 0) / 7,
    CUSTOMER_TIER_VALUE[features.customerTier],
    TIME_SENSITIVITY_VALUE[features.timeSensitivity],
  ];
  for (const t of TASK_TYPES) values.push(features.taskType === t ? 1 : 0);
  return values;
}

// Hashing: FNV-1a over UTF-16 code units, finished with murmur3's fmix32 so the low bits (the slot) are well mixed.
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** Distinct seeds keep word and character n-grams (and each n) apart before they fold into the same slots. */
const WORD_SEED = 0x9e3779b9;
const CHAR_SEED = 0x85ebca6b;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function hashString(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h >>> 0;
}

/** The hash of word n-gram tokens[start, start+n), from the tokens' own hashes. */
function wordGramHash(tokenHashes: ArrayLike<number>, start: number, n: number): number {
  let h = Math.imul(WORD_SEED ^ n, FNV_PRIME);
  for (let k = 0; k < n; k++) h = Math.imul(h ^ tokenHashes[start + k]!, FNV_PRIME);
  return fmix32(h);
}

function charGramHash(text: string, start: number, n: number): number {
  let h = Math.imul(CHAR_SEED ^ n, FNV_PRIME);
  for (let k = 0; k < n; k++) h = Math.imul(h ^ text.charCodeAt(start + k), FNV_PRIME);
  return fmix32(h);
}

/** Words are runs of letters, digits and "_"; every other non-space character (punctuation, emoji) is a token too. */
const TOKEN = /[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu;

/**
 * The text that is featurized, as separate segments (n-grams never span two): history turns, oldest first, then
 * the prompt. Over maxTextChars, the prompt keeps its head and tail (instructions tend to open a prompt and the
 * question to close it) and history keeps its most recent characters.
 */
export function textSegments(request: Pick<RouteRequest, 'prompt' | 'history'>, settings: Pick<FeatureSettings, 'maxTextChars'>): string[] {
  const budget = settings.maxTextChars;
  const prompt = request.prompt.toLowerCase();
  const promptSegments = prompt.length <= budget ? [prompt] : [prompt.slice(0, Math.floor(budget / 2)), prompt.slice(prompt.length - Math.ceil(budget / 2))];
  let left = budget - Math.min(prompt.length, budget);
  const historySegments: string[] = [];
  for (let i = request.history.length - 1; i >= 0 && left > 0; i--) {
    const content = request.history[i]!.content;
    const kept = content.length <= left ? content : content.slice(content.length - left);
    left -= kept.length;
    historySegments.push(kept.toLowerCase());
  }
  return [...historySegments.reverse(), ...promptSegments];
}

function collapseSpaces(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/**
 * Appends each text n-gram's 32-bit hash of one segment to `out` and its kind (0 word, 1 character) to `kinds`;
 * `onGram` (naming only) also gets its text.
 */
function segmentGrams(segment: string, settings: FeatureSettings, out: number[], kinds: number[], onGram?: (hash: number, gram: string) => void): void {
  const [wMin, wMax] = settings.wordNgrams;
  const tokens = onGram ? segment.match(TOKEN) ?? [] : undefined;
  const tokenHashes: number[] = [];
  if (tokens) for (const t of tokens) tokenHashes.push(hashString(t));
  else {
    TOKEN.lastIndex = 0;
    for (let m = TOKEN.exec(segment); m !== null; m = TOKEN.exec(segment)) tokenHashes.push(hashString(m[0]));
  }
  for (let n = wMin; n <= wMax; n++) {
    for (let i = 0; i + n <= tokenHashes.length; i++) {
      const h = wordGramHash(tokenHashes, i, n);
      out.push(h);
      kinds.push(0);
      if (onGram) onGram(h, JSON.stringify(tokens!.slice(i, i + n).join(' ')));
    }
  }
  if (!settings.charNgrams) return;
  const [cMin, cMax] = settings.charNgrams;
  const text = collapseSpaces(segment);
  for (let n = cMin; n <= cMax; n++) {
    for (let i = 0; i + n <= text.length; i++) {
      const h = charGramHash(text, i, n);
      out.push(h);
      kinds.push(1);
      if (onGram) onGram(h, `chars ${JSON.stringify(text.slice(i, i + n))}`);
    }
  }
}

/**
 * The request's feature vector: the structured features (DENSE_FEATURE_NAMES) in slots 0..TEXT_OFFSET-1, then
 * hashed n-grams of prompt and history in the next 2^hashBits slots, weighted by term frequency (1 + ln tf when
 * sublinearTf) and L2-normalised as a block. With character n-grams on, words and characters each make up half of
 * the block's squared norm, so thousands of character n-grams do not drown the few hundred words.
 */
export function featurize(request: Pick<RouteRequest, 'prompt' | 'history'>, features: RequestFeatures, settings: FeatureSettings): SparseVector {
  const indices: number[] = [];
  const values: number[] = [];
  const dense = denseValues(features);
  for (let i = 0; i < dense.length; i++) {
    if (dense[i] !== 0) {
      indices.push(i);
      values.push(dense[i]!);
    }
  }
  const hashes: number[] = [];
  const kinds: number[] = [];
  for (const segment of textSegments(request, settings)) segmentGrams(segment, settings, hashes, kinds);
  if (hashes.length === 0) return { indices, values };

  const mask = 2 ** settings.hashBits - 1;
  // Key = slot·2 + kind (0 word, 1 char): sorting groups equal n-gram slots so term frequencies are run lengths.
  const keys = new Int32Array(hashes.length);
  for (let i = 0; i < hashes.length; i++) keys[i] = ((hashes[i]! & mask) << 1) | kinds[i]!;
  keys.sort();
  const slots: number[] = [];
  const weights: number[] = [];
  const blockNorm2 = [0, 0];
  const runKind: number[] = [];
  for (let i = 0; i < keys.length; ) {
    let j = i + 1;
    while (j < keys.length && keys[j] === keys[i]) j++;
    const tf = j - i;
    const w = settings.sublinearTf ? 1 + Math.log(tf) : tf;
    const kind = keys[i]! & 1;
    slots.push(keys[i]! >> 1);
    weights.push(w);
    runKind.push(kind);
    blockNorm2[kind]! += w * w;
    i = j;
  }
  const both = blockNorm2[0]! > 0 && blockNorm2[1]! > 0;
  const scale = [0, 1].map((k) => (blockNorm2[k]! > 0 ? (both ? Math.SQRT1_2 : 1) / Math.sqrt(blockNorm2[k]!) : 0));
  // A word and a character n-gram can share a slot; they add up, and the block is normalised once more at the end.
  let norm2 = 0;
  const start = indices.length;
  for (let r = 0; r < slots.length; r++) {
    const index = TEXT_OFFSET + slots[r]!;
    const v = weights[r]! * scale[runKind[r]!]!;
    if (indices.length > start && indices[indices.length - 1] === index) {
      const last = values.length - 1;
      norm2 -= values[last]! * values[last]!;
      values[last]! += v;
      norm2 += values[last]! * values[last]!;
    } else {
      indices.push(index);
      values.push(v);
      norm2 += v * v;
    }
  }
  const inv = 1 / Math.sqrt(norm2);
  for (let i = start; i < values.length; i++) values[i]! *= inv;
  return { indices, values };
}

/**
 * For naming features in decision reasons: for each wanted text slot (a vector index at or past TEXT_OFFSET), how
 * often each n-gram that lands there occurs in this request. Slower than featurize; used at training time only.
 */
export function textSlotNgrams(
  request: Pick<RouteRequest, 'prompt' | 'history'>,
  settings: FeatureSettings,
  wanted: ReadonlySet<number>,
  counts: Map<number, Map<string, number>>,
): void {
  const mask = 2 ** settings.hashBits - 1;
  const onGram = (hash: number, gram: string) => {
    const index = TEXT_OFFSET + (hash & mask);
    if (!wanted.has(index)) return;
    let byGram = counts.get(index);
    if (!byGram) counts.set(index, (byGram = new Map()));
    byGram.set(gram, (byGram.get(gram) ?? 0) + 1);
  };
  for (const segment of textSegments(request, settings)) segmentGrams(segment, settings, [], [], onGram);
}

/** A readable name for a slot of the feature vector: a structured feature's name, or its n-gram when known. */
export function featureName(index: number, textNames: Readonly<Record<string, string>> = {}): string {
  if (index < TEXT_OFFSET) return DENSE_FEATURE_NAMES[index] ?? `slot ${index}`;
  return textNames[String(index)] ?? `text n-gram #${index - TEXT_OFFSET}`;
}
