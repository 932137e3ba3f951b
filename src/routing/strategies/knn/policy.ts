import { z } from 'zod';
import { policyBaseShape } from '../../../domain/policy';

export const KnnPolicySchema = z
  .object({
    ...policyBaseShape,
    strategy: z.literal('knn'),
    knn: z
      .object({
        /** The artefact written by `model-router train --strategy knn`. */
        artefactPath: z.string().min(1),
        /** The cost-quality knob; defaults to the artefact's operating point, else 1. */
        lambda: z.number().nonnegative().optional(),
        /** Judge cost as a share of the cheapest model's call; defaults to the artefact's operating point, else 0.1. */
        judgeCostRatio: z.number().nonnegative().optional(),
      })
      .strict(),
  })
  .strict();
export type KnnPolicy = z.infer<typeof KnnPolicySchema>;
