import type { ModelSpec } from '../domain/catalog';
import { TIER_NAMES, type TierName } from '../domain/tiers';

/** A rung of the escalation ladder: enough of a ModelSpec for the workflow to climb without the catalog. */
export interface Rung {
  id: string;
  tier: number;
  tierName: TierName;
  inputUsdPer1M: number;
  outputUsdPer1M: number;
  timeouts: ModelSpec['timeouts'];
}

/** Models from weakest to strongest; within a tier, cheapest first. */
export function escalationLadder(models: readonly ModelSpec[]): Rung[] {
  return [...models]
    .sort((a, b) => a.tier - b.tier || a.inputUsdPer1M + a.outputUsdPer1M - (b.inputUsdPer1M + b.outputUsdPer1M) || a.id.localeCompare(b.id))
    .map(({ id, tier, tierName, inputUsdPer1M, outputUsdPer1M, timeouts }) => ({ id, tier, tierName, inputUsdPer1M, outputUsdPer1M, timeouts }));
}

/** The strongest model: highest tier, and the priciest of that tier (price is the market's capability signal). */
export function bestModel(ladder: readonly Rung[]): Rung {
  const top = ladder[ladder.length - 1];
  if (!top) throw new Error('escalation ladder is empty');
  const topTier = ladder.filter((r) => r.tier === top.tier);
  return topTier.reduce((a, b) => (b.inputUsdPer1M + b.outputUsdPer1M > a.inputUsdPer1M + a.outputUsdPer1M ? b : a));
}

/** The cheapest model of the next stronger tier, or undefined at the top. */
export function nextStronger(ladder: readonly Rung[], modelId: string): Rung | undefined {
  const current = ladder.find((r) => r.id === modelId);
  if (!current) throw new Error(`model "${modelId}" is not on the escalation ladder`);
  return ladder.find((r) => r.tier > current.tier);
}

/** The cheapest model of a named tier, else of the nearest stronger tier, else the best model. */
export function cheapestOfTier(ladder: readonly Rung[], tierName: TierName): Rung {
  const exact = ladder.find((r) => r.tierName === tierName);
  if (exact) return exact;
  const wanted = TIER_NAMES.indexOf(tierName);
  return ladder.find((r) => TIER_NAMES.indexOf(r.tierName) > wanted) ?? bestModel(ladder);
}
