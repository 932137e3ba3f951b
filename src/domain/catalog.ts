import { z } from 'zod';

import { TIER_NAMES } from './tiers';

export { TIER_NAMES, type TierName } from './tiers';
export const TierNameSchema = z.enum(TIER_NAMES);

/** A price above this is a unit mistake (per token, per 1K) or a typo, and would make every cost comparison meaningless. */
export const MAX_USD_PER_1M = 10_000;
const UsdPer1MSchema = z.number().nonnegative().max(MAX_USD_PER_1M, `must be at most ${MAX_USD_PER_1M} (USD per 1M tokens)`);

export const ModelSpecSchema = z
  .object({
    id: z.string().min(1).max(128),
    provider: z.string().min(1).max(64),
    /** Capability order: a higher tier is a stronger model. */
    tier: z.number().int().min(1).max(10),
    tierName: TierNameSchema,
    inputUsdPer1M: UsdPer1MSchema,
    outputUsdPer1M: UsdPer1MSchema,
    contextWindow: z.number().int().positive(),
    timeouts: z
      .object({
        startToCloseMs: z.number().int().positive(),
        scheduleToCloseMs: z.number().int().positive(),
      })
      .strict()
      .refine((t) => t.scheduleToCloseMs >= t.startToCloseMs, {
        message: 'scheduleToCloseMs must be at least startToCloseMs',
        path: ['scheduleToCloseMs'],
      }),
    /** The name the provider knows the model by, when it differs from the catalog id. */
    providerModel: z.string().min(1).optional(),
  })
  .strict();
export type ModelSpec = z.infer<typeof ModelSpecSchema>;

export const CatalogSchema = z
  .object({
    models: z.array(ModelSpecSchema).min(1, 'must list at least one model'),
  })
  .strict()
  .superRefine((catalog, ctx) => {
    const seen = new Set<string>();
    catalog.models.forEach((m, i) => {
      if (seen.has(m.id)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['models', i, 'id'], message: `duplicate model id "${m.id}"` });
      seen.add(m.id);
    });
    // Escalation climbs by tier and rules pick by tier name: the two orders must agree, or "large" could be weaker.
    const rank = (m: ModelSpec) => TIER_NAMES.indexOf(m.tierName);
    catalog.models.forEach((m, i) => {
      const j = catalog.models.findIndex((o, k) => (o.tier === m.tier ? k < i && rank(o) !== rank(m) : o.tier < m.tier && rank(o) > rank(m)));
      const other = catalog.models[j];
      if (!other) return;
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['models', i, 'tierName'],
        message:
          `"${m.tierName}" at tier ${m.tier} does not match "${other.tierName}" at tier ${other.tier} (models.${j}): ` +
          'models of one tier share a tier name, and a higher tier must not have a weaker one',
      });
    });
  });
export type Catalog = z.infer<typeof CatalogSchema>;
