import { z } from 'zod';
import { ArtefactPolicyOptionsSchema, policyBaseShape } from '../../../domain/policy';

export const KnnPolicySchema = z
  .object({
    ...policyBaseShape,
    strategy: z.literal('knn'),
    knn: ArtefactPolicyOptionsSchema,
  })
  .strict();
export type KnnPolicy = z.infer<typeof KnnPolicySchema>;
