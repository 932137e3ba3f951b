import { z } from 'zod';
import { ArtefactModelSchema, catalogFingerprint, FeatureSettingsSchema, OperatingPointSchema } from './classifierArtefact';
import { parseJsonOrThrow, parseOrThrow, ValidationError } from './validation';

/*
 * The kNN router's artefact (`model-router train --strategy knn`): the featurized training requests (hashed
 * vectors, never their text) with every model's pass/fail label, so a worker can route by kNN without the
 * training data. Versioned and fingerprinted like the classifier's.
 */

export const KNN_ARTEFACT_FORMAT_VERSION = 1;

const SparseRowSchema = z
  .object({ indices: z.array(z.number().int().nonnegative()), values: z.array(z.number()) })
  .strict()
  .refine((r) => r.indices.length === r.values.length, { message: 'must have as many values as indices', path: ['values'] });

export const KnnArtefactSchema = z
  .object({
    formatVersion: z.literal(KNN_ARTEFACT_FORMAT_VERSION),
    kind: z.literal('knn'),
    createdAt: z.string().datetime({ message: 'must be an ISO-8601 UTC timestamp' }),
    policyVersion: z.string().min(1),
    featureSettings: FeatureSettingsSchema,
    passThreshold: z.number().min(0).max(1),
    k: z.number().int().min(1),
    catalog: z.array(ArtefactModelSchema).min(1, 'must list at least one model'),
    catalogFingerprint: z.string().regex(/^[0-9a-f]{64}$/, 'must be a lower-case hex SHA-256 digest'),
    trainingData: z.array(z.object({ path: z.string().min(1), sha256: z.string(), rows: z.number().int().nonnegative() }).strict()),
    vectors: z.array(SparseRowSchema).min(1, 'must hold at least one training request'),
    /** Per catalog model, one character per training request: "1" passed, "0" failed, "-" not recorded. */
    labels: z.record(z.string(), z.string().regex(/^[01-]*$/, 'must be a string of "1", "0" and "-"')),
    operatingPoint: OperatingPointSchema.optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    for (const m of a.catalog) {
      const column = a.labels[m.id];
      if (column === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['labels'], message: `has no labels for catalog model "${m.id}"` });
      else if (column.length !== a.vectors.length) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['labels', m.id], message: `has ${column.length} labels for ${a.vectors.length} training requests` });
    }
    if (a.catalogFingerprint !== catalogFingerprint(a.catalog)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['catalogFingerprint'], message: "does not match the artefact's own catalog (the catalog was edited after training; retrain instead)" });
    }
  });
export type KnnArtefact = z.infer<typeof KnnArtefactSchema>;

export function parseKnnArtefactJson(text: string, subject = 'kNN artefact'): KnnArtefact {
  const json = parseJsonOrThrow(text, subject);
  const version = typeof json === 'object' && json !== null ? (json as { formatVersion?: unknown }).formatVersion : undefined;
  if (version !== KNN_ARTEFACT_FORMAT_VERSION || (json as { kind?: unknown }).kind !== 'knn') {
    throw new ValidationError(subject, [
      { path: 'formatVersion', message: `not a kNN artefact of format version ${KNN_ARTEFACT_FORMAT_VERSION} (retrain with "model-router train --strategy knn")` },
    ]);
  }
  return parseOrThrow(KnnArtefactSchema, json, subject);
}
