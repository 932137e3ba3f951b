/**
 * Length of the bandit's context vector: a bias, the classifier's 17 structured request features, and the hashed
 * text block folded into 16 slots (context.ts builds it and checks this number). Kept apart from context.ts so the
 * workflow can validate outcomes without importing the feature code.
 */
export const CONTEXT_DIMENSION = 34;
/** Slots the hashed text block is folded into. */
export const TEXT_FOLD = 16;
