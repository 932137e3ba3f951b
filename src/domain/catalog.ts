import { z } from 'zod';

import { TIER_NAMES } from './tiers';

export { TIER_NAMES, type TierName } from './tiers';
export const TierNameSchema = z.enum(TIER_NAMES);

export const ModelSpecSchema = z
  .object({
    id: z.string().min(1).max(128),
    provider: z.string().min(1).max(64),
    /** Capability order: a higher tier is a stronger model. */
    tier: z.number().int().min(1).max(10),
    tierName: TierNameSchema,
    inputUsdPer1M: z.number().nonnegative(),
    outputUsdPer1M: z.number().nonnegative(),
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
  });
export type Catalog = z.infer<typeof CatalogSchema>;
