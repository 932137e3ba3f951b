/** Capability tiers by name, weakest first (zod-free: the workflows' escalation ladder reads it). */
export const TIER_NAMES = ['small', 'medium', 'large'] as const;
export type TierName = (typeof TIER_NAMES)[number];
