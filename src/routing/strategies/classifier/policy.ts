import { z } from 'zod';
import { policyBaseShape } from '../../../domain/policy';

export const ClassifierPolicySchema = z
  .object({
    ...policyBaseShape,
    strategy: z.literal('classifier'),
    classifier: z
      .object({
        /** The artefact written by `model-router train`; a relative path is taken from the working directory. */
        artefactPath: z.string().min(1),
        /** The cost-quality knob; defaults to the operating point stored in the artefact. */
        lambda: z.number().nonnegative().optional(),
        /** Judge cost as a share of the cheapest model's call; defaults to the artefact's operating point, else 0.1. */
        judgeCostRatio: z.number().nonnegative().optional(),
      })
      .strict(),
  })
  .strict();
export type ClassifierPolicy = z.infer<typeof ClassifierPolicySchema>;
