import { z } from 'zod';
import { ArtefactPolicyOptionsSchema, policyBaseShape } from '../../../domain/policy';

export const ClassifierPolicySchema = z
  .object({
    ...policyBaseShape,
    strategy: z.literal('classifier'),
    classifier: ArtefactPolicyOptionsSchema,
  })
  .strict();
export type ClassifierPolicy = z.infer<typeof ClassifierPolicySchema>;
