import { createHash } from 'node:crypto';
import { z } from 'zod';
import { parseJsonOrThrow, parseOrThrow, ValidationError } from './validation';

/*
 * The classifier router's model artefact: written by `model-router train`, loaded by the route activity and the
 * offline evaluator by path. Everything needed to reproduce a prediction is in it (feature settings, catalog,
 * weights, calibration), plus what it was trained on and how well it did, so a stale or foreign artefact is
 * refused instead of silently mis-routing.
 */

/** The artefact layout this code reads and writes. Bump it when the layout or its meaning changes. */
export const CLASSIFIER_ARTEFACT_FORMAT_VERSION = 2;

/**
 * Slots before the hashed text block: the request's structured features (src/routing/textFeatures.ts names them).
 * Kept here so the artefact's slot ranges can be checked without importing the routing core.
 */
export const DENSE_SLOT_COUNT = 17;

const ngramRange = (max: number) =>
  z
    .tuple([z.number().int().min(1).max(max), z.number().int().min(1).max(max)])
    .refine(([lo, hi]) => lo <= hi, { message: 'must be [min, max] with min <= max' });

/** How text becomes a feature vector (see src/routing/textFeatures.ts). Versioned with the hashing scheme. */
export const FeatureSettingsSchema = z
  .object({
    version: z.literal(1, { errorMap: () => ({ message: 'must be 1 (the only feature-settings version this router knows)' }) }),
    /** The text block has 2^hashBits slots. */
    hashBits: z.number().int().min(8).max(24),
    wordNgrams: ngramRange(5),
    charNgrams: ngramRange(8).nullable(),
    /** Term weight 1 + ln(tf) instead of tf, so a phrase repeated by few-shot examples does not dominate. */
    sublinearTf: z.boolean(),
    /** Longer text keeps its head and tail (prompt) and its most recent part (history) within this many characters. */
    maxTextChars: z.number().int().min(64).max(1_000_000),
  })
  .strict();
export type FeatureSettings = z.infer<typeof FeatureSettingsSchema>;

/** The cascade's learnt evidence: square shift tables over `models`. */
const CascadeEvidenceSchema = z
  .object({
    version: z.literal(1, { errorMap: () => ({ message: 'must be 1 (the only cascade-evidence version this router knows; retrain)' }) }),
    models: z.array(z.string().min(1)).min(1),
    nearMissFrom: z.number().min(0).max(1),
    farShift: z.array(z.array(z.number())),
    nearShift: z.array(z.array(z.number().nullable())),
    examples: z.number().int().nonnegative(),
  })
  .strict()
  .superRefine((e, ctx) => {
    for (const key of ['farShift', 'nearShift'] as const) {
      if (e[key].length !== e.models.length || e[key].some((row) => row.length !== e.models.length)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: [key], message: `must be a ${e.models.length}×${e.models.length} table (one row and column per model)` });
      }
    }
  });

/** A model as the classifier knows it: enough to price a request and to tell whether the router's catalog matches. */
export const ArtefactModelSchema = z
  .object({
    id: z.string().min(1),
    tier: z.number().int().min(1).max(10),
    inputUsdPer1M: z.number().nonnegative(),
    outputUsdPer1M: z.number().nonnegative(),
    /** Output tokens assumed when pricing this model's answer; null: the request's own expectedOutputTokens. */
    expectedOutputTokens: z.number().nonnegative().nullable(),
  })
  .strict();
export type ArtefactModel = z.infer<typeof ArtefactModelSchema>;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lower-case hex SHA-256 digest');

export const CalibrationSchema = z
  .discriminatedUnion('method', [
    /** p = sigmoid(a·score + b), score being the logistic model's logit. */
    z.object({ method: z.literal('platt'), a: z.number(), b: z.number() }).strict(),
    /** Piecewise-linear through (scores[i], probabilities[i]); flat beyond the ends. */
    z
      .object({
        method: z.literal('isotonic'),
        scores: z.array(z.number()).min(1),
        probabilities: z.array(z.number().min(0).max(1)).min(1),
      })
      .strict(),
  ])
  .superRefine((c, ctx) => {
    if (c.method !== 'isotonic') return;
    if (c.scores.length !== c.probabilities.length) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['probabilities'], message: 'must have as many entries as scores' });
    if (!c.scores.every((s, i) => i === 0 || s > c.scores[i - 1]!)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['scores'], message: 'must be strictly increasing' });
    if (!c.probabilities.every((p, i) => i === 0 || p >= c.probabilities[i - 1]!)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['probabilities'], message: 'must be non-decreasing' });
  });
export type Calibration = z.infer<typeof CalibrationSchema>;

/**
 * One model's logistic regression: logit = bias + Σ values[i]·x[indices[i]]. Only non-zero weights are stored
 * (rounded to a few significant digits), which keeps eleven models over 2^16 hashed slots to a few MB.
 */
export const PassModelSchema = z
  .object({
    bias: z.number(),
    indices: z.array(z.number().int().nonnegative()),
    values: z.array(z.number()),
    calibration: CalibrationSchema,
  })
  .strict()
  .refine((m) => m.indices.length === m.values.length, { message: 'must have as many entries as indices', path: ['values'] })
  .refine((m) => m.indices.every((j, i) => i === 0 || j > m.indices[i - 1]!), { message: 'must be strictly increasing', path: ['indices'] });
export type PassModel = z.infer<typeof PassModelSchema>;

/** Out-of-fold quality of one model's pass predictions on the training data. */
export const ModelTrainingMetricsSchema = z
  .object({
    n: z.number().int().nonnegative(),
    basePassRate: z.number().min(0).max(1),
    /** Of the calibrated out-of-fold probabilities. */
    logLoss: z.number().nonnegative(),
    brier: z.number().nonnegative(),
    /** Expected calibration error (10 equal-width bins) of the raw and of the calibrated out-of-fold probabilities. */
    eceBefore: z.number().min(0).max(1),
    eceAfter: z.number().min(0).max(1),
    auc: z.number().min(0).max(1),
  })
  .strict();
export type ModelTrainingMetrics = z.infer<typeof ModelTrainingMetricsSchema>;

/** Where the lead's `train --target-retention` put the classifier's λ knob, and what it measured there. */
export const OperatingPointSchema = z
  .object({
    lambda: z.number().nonnegative(),
    threshold: z.number().min(0).max(1).optional(),
    /** Which qualifying model the decision rule takes (src/routing/classifier/decide.ts); absent = the router's default ('max-utility'). */
    selection: z.enum(['cheapest', 'min-expected-cost', 'max-utility']).optional(),
    // Above 1 with the gate: an escalating router can beat always-best (the CLI takes up to 1.5).
    targetRetention: z.number().min(0).max(1.5),
    /** The escalation the point was searched with (absent: the ladder). */
    escalation: z.enum(['ladder', 'cascade']).optional(),
    achievedRetention: z.number(),
    costSavings: z.number(),
    gateError: z.number().min(0).max(1),
    judgeCostRatio: z.number().nonnegative(),
    noGate: z.boolean(),
  })
  .strict();
export type OperatingPoint = z.infer<typeof OperatingPointSchema>;

export const ClassifierArtefactSchema = z
  .object({
    formatVersion: z.literal(CLASSIFIER_ARTEFACT_FORMAT_VERSION),
    createdAt: z.string().datetime({ message: 'must be an ISO-8601 UTC timestamp' }),
    /** Reported as the decisions' policyVersion. */
    policyVersion: z.string().min(1),
    featureSettings: FeatureSettingsSchema,
    /** Labels were "passes" = recorded quality >= this. */
    passThreshold: z.number().min(0).max(1),
    catalog: z.array(ArtefactModelSchema).min(1, 'must list at least one model'),
    catalogFingerprint: sha256Hex,
    trainingData: z.array(z.object({ path: z.string().min(1), sha256: sha256Hex, rows: z.number().int().nonnegative() }).strict()),
    training: z
      .object({
        examples: z.number().int().nonnegative(),
        folds: z.number().int().min(2),
        seed: z.number().int(),
        l2: z.number().positive(),
        maxIterations: z.number().int().positive(),
      })
      .strict(),
    models: z.record(z.string(), PassModelSchema),
    /** Hashed text slots named by the n-gram seen most often in them at training time (for decision reasons). */
    featureNames: z.record(z.string().regex(/^\d+$/, 'keys must be slot numbers'), z.string()),
    trainingMetrics: z.record(z.string(), ModelTrainingMetricsSchema),
    operatingPoint: OperatingPointSchema.optional(),
    /** What escalation "cascade" needs (routing/cascade.ts); absent in artefacts trained before it existed. */
    cascade: CascadeEvidenceSchema.optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    const ids = a.catalog.map((m) => m.id);
    ids.forEach((id, i) => {
      if (ids.indexOf(id) !== i) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['catalog', i, 'id'], message: `duplicate model id "${id}"` });
      if (!a.models[id]) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['models'], message: `has no entry for catalog model "${id}"` });
    });
    for (const id of Object.keys(a.models)) {
      if (!ids.includes(id)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['models', id], message: `"${id}" is not in the artefact's catalog` });
    }
    const dimension = DENSE_SLOT_COUNT + 2 ** a.featureSettings.hashBits;
    for (const [id, m] of Object.entries(a.models)) {
      const last = m.indices[m.indices.length - 1];
      if (last !== undefined && last >= dimension) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['models', id, 'indices'], message: `slot ${last} is outside the feature space (${dimension} slots)` });
      }
    }
    if (a.catalogFingerprint !== catalogFingerprint(a.catalog)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['catalogFingerprint'],
        message: 'does not match the artefact\'s own catalog (the catalog was edited after training; retrain instead)',
      });
    }
  });
export type ClassifierArtefact = z.infer<typeof ClassifierArtefactSchema>;

/** Validates a parsed artefact; a bad one throws a ValidationError naming each offending field. */
export function parseClassifierArtefact(input: unknown, subject = 'classifier artefact'): ClassifierArtefact {
  // The version is checked first and alone: a future layout would otherwise drown in "unknown field" errors.
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    const version = (input as { formatVersion?: unknown }).formatVersion;
    if (version !== CLASSIFIER_ARTEFACT_FORMAT_VERSION) {
      const got = version === undefined ? 'none' : JSON.stringify(version);
      throw new ValidationError(subject, [
        {
          path: 'formatVersion',
          message: `unknown format version ${got}; this router reads format version ${CLASSIFIER_ARTEFACT_FORMAT_VERSION} (retrain with this version's "model-router train")`,
        },
      ]);
    }
  }
  return parseOrThrow(ClassifierArtefactSchema, input, subject);
}

/** Parses an artefact file's text; broken JSON is reported as such, with the subject (e.g. the file path). */
export function parseClassifierArtefactJson(text: string, subject = 'classifier artefact'): ClassifierArtefact {
  return parseClassifierArtefact(parseJsonOrThrow(text, subject), subject);
}

/** The fields of a catalog model that the classifier's predictions and costs depend on. */
export type CatalogModelPrice = Pick<ArtefactModel, 'id' | 'tier' | 'inputUsdPer1M' | 'outputUsdPer1M'>;

/** SHA-256 of the catalog's ids, tiers and prices, in id order: equal fingerprints mean the same priced models. */
export function catalogFingerprint(models: readonly CatalogModelPrice[]): string {
  const canonical = [...models]
    .map((m) => [m.id, m.tier, m.inputUsdPer1M, m.outputUsdPer1M] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

/**
 * Refuses an artefact trained for other models or prices than the router's catalog: its probabilities would be
 * for the wrong models and its cost thresholds for the wrong prices. The message lists every difference.
 */
export function assertArtefactMatchesCatalog(artefact: Pick<ClassifierArtefact, 'catalog' | 'catalogFingerprint'>, routerModels: readonly CatalogModelPrice[], subject = 'classifier artefact'): void {
  if (catalogFingerprint(routerModels) === artefact.catalogFingerprint) return;
  const issues: { path: string; message: string }[] = [];
  const router = new Map(routerModels.map((m) => [m.id, m]));
  artefact.catalog.forEach((m, i) => {
    const r = router.get(m.id);
    if (!r) {
      issues.push({ path: `catalog.${i}.id`, message: `model "${m.id}" is not in the router's catalog` });
      return;
    }
    for (const key of ['tier', 'inputUsdPer1M', 'outputUsdPer1M'] as const) {
      if (r[key] !== m[key]) issues.push({ path: `catalog.${i}.${key}`, message: `"${m.id}" was trained with ${key} ${m[key]}, the router's catalog has ${r[key]}` });
    }
  });
  for (const r of routerModels) {
    if (!artefact.catalog.some((m) => m.id === r.id)) issues.push({ path: 'catalog', message: `has no model "${r.id}", which the router's catalog lists` });
  }
  if (issues.length === 0) issues.push({ path: 'catalogFingerprint', message: 'does not match the router\'s catalog' });
  throw new ValidationError(`${subject} (its catalog does not match the router's; retrain it for this catalog)`, issues);
}
