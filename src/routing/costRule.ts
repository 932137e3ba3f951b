import type { OperatingPoint } from '../domain/classifierArtefact';
import type { RequestFeatures } from '../domain/results';
import { priceTokens } from '../domain/cost';
import { cascadePlanFor, type CascadeEvidence } from './cascade';
import { bestModel, type Rung } from './ladder';
import type { FirstChoice, HeldOutOptions } from './strategies/types';

/*
 * The cost-derived decision rule shared by the classifier and the kNN router.
 *
 * Derivation (λ = 1). Let ĉ_m be model m's expected call cost, b the best model, g the cost of one gate
 * judgement, p_m the calibrated probability that m passes. Send the request straight to b: it costs ĉ_b + g.
 * Send it to a cheaper m: it always costs ĉ_m + g, and when m fails (probability 1 − p_m) the gate catches it and
 * the request escalates to b, adding ĉ_b + g. So m is the cheaper bet in expectation iff
 *     ĉ_m + g + (1 − p_m)(ĉ_b + g)  ≤  ĉ_b + g   ⇔   p_m ≥ 1 − (ĉ_b − ĉ_m)/(ĉ_b + g).
 * The asymmetry is visible: a too-weak choice wastes ĉ_m + ĉ_b + 2g − (ĉ_b + g) = ĉ_m + g and the latency of a
 * second call; a too-strong one wastes only the price difference ĉ_b − ĉ_m. With a perfect gate quality is the
 * same either way, so λ = 1 minimises expected cost. λ scales the saving term:
 *     τ_m = clamp(1 − λ·(ĉ_b − ĉ_m)/(ĉ_b + g), 0, 1)
 * λ = 0 → τ = 1 → always the best model (maximum quality, e.g. when the gate is unreliable or absent); 0 < λ < 1
 * demands more confidence than break-even, buying quality against gate errors; λ > 1 is more aggressive than
 * break-even (cheaper, more escalations).
 *
 * Which model among those that clear their thresholds (`selection`):
 *  - 'cheapest': the cheapest model whose p_m clears its τ_m, else b.
 *  - 'min-expected-cost': the one with the largest margin p_m − τ_m, else b. The margin is
 *    (E[cost_b] − E[cost_m]) / (ĉ_b + g) at λ = 1, so this is the expected-cost minimiser the derivation asks for;
 *    'cheapest' stops at the first model that beats b and can pass over a slightly dearer, far likelier one
 *    (on RouterBench every open model costs under 5 % of GPT-4, so all their thresholds are nearly equal).
 *  - 'max-utility' (default): the model (b included) maximising p_m − λ·ĉ_m/(ĉ_b + g), i.e. minimising the
 *    expected cost ĉ_m + (1 − p_m)·F with the failure priced at F = (ĉ_b + g)/λ. It counts the best model's own
 *    failures too: m is chosen over b iff p_m ≥ τ_m − (1 − p_b), the cost-derived threshold less b's miss rate.
 * λ = 0 takes b in every mode. Escalating through intermediate tiers (as the workflow does) rather than straight
 * to b is ignored: it only changes the cost of the failure branch, which λ absorbs when an operating point is
 * tuned on held-out data.
 */

export interface DecisionCandidate {
  id: string;
  expectedCostUsd: number;
  passProbability: number;
}

export const SELECTIONS = ['cheapest', 'min-expected-cost', 'max-utility'] as const;
export type Selection = (typeof SELECTIONS)[number];
/**
 * Measured on RouterBench (5-fold held-out): 'max-utility' reaches 95.7 % retention at 66.7 % savings without a gate
 * where 'cheapest' stops at 43.5 %, and saves more with the gate too, so it is the default.
 */
export const DEFAULT_SELECTION: Selection = 'max-utility';

export interface ThresholdRule {
  /** ≥ 0: 0 = always the best model, 1 = expected-cost break-even, > 1 more aggressive. */
  lambda: number;
  /** Cost of one gate judgement (g above). */
  judgeCostUsd: number;
  /** A fixed threshold for every cheaper model instead of the cost-derived τ_m (a simpler sweep knob). */
  threshold?: number;
  /** Default DEFAULT_SELECTION; see above. */
  selection?: Selection;
}

export interface ThresholdChoice {
  model: string;
  passProbability: number;
  /** The chosen model's threshold (1 for the best model). Under 'max-utility' it need not have been cleared. */
  threshold: number;
  /** True when the best model was taken: λ = 0, no cheaper model qualified, or it had the highest utility. */
  fellBack: boolean;
  /** Every candidate with its threshold, cheapest first. */
  considered: (DecisionCandidate & { threshold: number })[];
}

/** τ_m = clamp(1 − λ·(ĉ_best − ĉ_m)/(ĉ_best + g), 0, 1); 1 for a model no cheaper than the best. */
export function costThreshold(costUsd: number, bestCostUsd: number, judgeCostUsd: number, lambda: number): number {
  const denominator = bestCostUsd + judgeCostUsd;
  if (!(denominator > 0) || costUsd >= bestCostUsd) return 1;
  return Math.min(1, Math.max(0, 1 - (lambda * (bestCostUsd - costUsd)) / denominator));
}

/** Applies the decision rule (see `selection` above); the best model when nothing cheaper qualifies. */
export function chooseByThreshold(candidates: readonly DecisionCandidate[], bestId: string, rule: ThresholdRule): ThresholdChoice {
  if (!(rule.lambda >= 0)) throw new Error(`lambda must be a number >= 0, got ${rule.lambda}`);
  const best = candidates.find((c) => c.id === bestId);
  if (!best) throw new Error(`the best model "${bestId}" is not among the candidates`);
  // A model can be routed to instead of the best one only if it is cheaper and λ > 0.
  const eligible = (c: DecisionCandidate) => c.id !== bestId && rule.lambda > 0 && c.expectedCostUsd < best.expectedCostUsd;
  // Stable sort: equally priced candidates keep the caller's (ladder) order, and ties below go to the cheaper.
  const considered = [...candidates]
    .sort((a, b) => a.expectedCostUsd - b.expectedCostUsd)
    .map((c) => ({
      ...c,
      threshold: eligible(c) ? rule.threshold ?? costThreshold(c.expectedCostUsd, best.expectedCostUsd, rule.judgeCostUsd, rule.lambda) : 1,
    }));
  const clearing = considered.filter((c) => eligible(c) && c.passProbability >= c.threshold);
  let chosen: (typeof considered)[number] | undefined;
  switch (rule.selection ?? DEFAULT_SELECTION) {
    case 'cheapest':
      chosen = clearing[0];
      break;
    case 'min-expected-cost':
      chosen = clearing.reduce<typeof chosen>((a, c) => (!a || c.passProbability - c.threshold > a.passProbability - a.threshold ? c : a), undefined);
      break;
    case 'max-utility': {
      if (rule.lambda === 0) break;
      const scale = rule.lambda / (best.expectedCostUsd + rule.judgeCostUsd);
      const utility = (c: DecisionCandidate) => c.passProbability - scale * c.expectedCostUsd;
      chosen = considered.filter((c) => eligible(c) || c.id === bestId).reduce((a, c) => (utility(c) > utility(a) ? c : a));
      break;
    }
  }
  if (chosen && chosen.id !== bestId) return { model: chosen.id, passProbability: chosen.passProbability, threshold: chosen.threshold, fellBack: false, considered };
  return { model: best.id, passProbability: best.passProbability, threshold: 1, fellBack: true, considered };
}

/** A model's expected call cost: prompt tokens at its input price plus its expected output tokens at its output price. */
export function expectedCallCostUsd(
  model: Pick<Rung, 'inputUsdPer1M' | 'outputUsdPer1M'>,
  features: Pick<RequestFeatures, 'promptTokens' | 'expectedOutputTokens'>,
  expectedOutputTokens?: number | null,
): number {
  return priceTokens(model, features.promptTokens, expectedOutputTokens ?? features.expectedOutputTokens);
}

export interface CostRuleOptions {
  /** Default: the artefact's operating point, else 1 (break-even). */
  lambda?: number;
  /** The gate's cost per judgement; default judgeCostRatio × the cheapest model's expected call cost. */
  judgeCostUsd?: number;
  /** Default: the artefact's operating point, else 0.1 (the offline evaluator's default judge cost). */
  judgeCostRatio?: number;
  /** A fixed threshold instead of the cost-derived one; default: the operating point's, if any, unless lambda is given. */
  threshold?: number;
  /** Default: the artefact's operating point's, else DEFAULT_SELECTION. */
  selection?: Selection;
  /**
   * The knob in money: dollars per request for one more point (1 %) of pass probability. A pass is then worth
   * V = 100·W, and since F = (ĉ_best + g)/λ is the rule's price of a failure, λ = (ĉ_best + g)/V on this request.
   * Ignored when lambda is given.
   */
  willingnessToPayUsd?: number;
}

/** Resolves the rule's knobs and prices every ladder model for this request. */
export function candidatesAndRule(
  ladder: readonly Rung[],
  features: RequestFeatures,
  passProbability: (id: string) => number,
  expectedOutputTokens: (id: string) => number | null | undefined,
  options: CostRuleOptions,
  operatingPoint?: OperatingPoint,
): { candidates: DecisionCandidate[]; best: Rung; rule: ThresholdRule } {
  const best = bestModel(ladder);
  const candidates = ladder.map((r) => ({
    id: r.id,
    expectedCostUsd: expectedCallCostUsd(r, features, expectedOutputTokens(r.id)),
    passProbability: passProbability(r.id),
  }));
  const cheapest = Math.min(...candidates.map((c) => c.expectedCostUsd));
  const judgeCostUsd = options.judgeCostUsd ?? (options.judgeCostRatio ?? operatingPoint?.judgeCostRatio ?? 0.1) * cheapest;
  const threshold = options.threshold ?? (options.lambda === undefined && options.willingnessToPayUsd === undefined ? operatingPoint?.threshold : undefined);
  const selection = options.selection ?? operatingPoint?.selection ?? DEFAULT_SELECTION;
  const bestCostUsd = candidates.find((c) => c.id === best.id)!.expectedCostUsd;
  const priced = options.willingnessToPayUsd !== undefined ? (bestCostUsd + judgeCostUsd) / (100 * options.willingnessToPayUsd) : undefined;
  const rule: ThresholdRule = { lambda: options.lambda ?? priced ?? operatingPoint?.lambda ?? 1, judgeCostUsd, selection, ...(threshold !== undefined ? { threshold } : {}) };
  return { candidates, best, rule };
}

/** The reason's account of the rule: what was chosen, under which knob, and the nearest cheaper model passed over. */
export function describeChoice(choice: ThresholdChoice, rule: ThresholdRule): string {
  const selection = rule.selection ?? DEFAULT_SELECTION;
  const knob = [
    rule.threshold !== undefined ? `fixed threshold ${rule.threshold}` : `λ=${rule.lambda}, judge $${rule.judgeCostUsd.toPrecision(2)}`,
    ...(selection !== DEFAULT_SELECTION ? [selection] : []),
  ].join(', ');
  const chosenCost = choice.considered.find((c) => c.id === choice.model)!.expectedCostUsd;
  const passedOver = choice.considered.filter((c) => c.threshold < 1 && c.expectedCostUsd < chosenCost).pop();
  const missed = passedOver
    ? `; cheaper ${passedOver.id} had p=${passedOver.passProbability.toFixed(2)} ${passedOver.passProbability >= passedOver.threshold ? '>=' : '<'} ${passedOver.threshold.toFixed(2)}`
    : '';
  const p = `p(pass)=${choice.passProbability.toFixed(2)}`;
  if (rule.lambda === 0) return `λ=0 always takes the best model: ${choice.model}, ${p} (${knob})`;
  if (selection === 'max-utility') return `${choice.model} has the highest p − λ·cost/(cost of best + judge), ${p} (${knob})${missed}`;
  if (choice.fellBack) return `no cheaper model cleared its threshold: ${choice.model}, ${p} (${knob})${missed}`;
  const how = selection === 'min-expected-cost' ? 'largest margin over its threshold' : 'cheapest to clear its threshold';
  return `${choice.model} ${p} >= threshold ${choice.threshold.toFixed(2)}, ${how} (${knob})${missed}`;
}

/** The cost rule end to end: price every ladder model for the request, then choose (candidatesAndRule + chooseByThreshold). */
export function chooseByCost(...args: Parameters<typeof candidatesAndRule>): { choice: ThresholdChoice; rule: ThresholdRule } {
  const { candidates, best, rule } = candidatesAndRule(...args);
  return { choice: chooseByThreshold(candidates, best.id, rule), rule };
}

/**
 * Held-out first choices from per-example pass probabilities (each from a fit that never saw the example): the cost
 * rule applied at whatever λ an offline sweep asks for. With `cascade`, each choice carries the cascade's plan for
 * the example, built from the same priced candidates and evidence learnt without the example's fold.
 */
export function heldOutByCost(
  ladder: readonly Rung[],
  features: readonly RequestFeatures[],
  passProbabilities: (example: number) => Readonly<Record<string, number>>,
  judgeCostRatio: number,
  cascadeEvidence?: (example: number) => CascadeEvidence,
): { choose(example: number, lambda: number, options?: HeldOutOptions): FirstChoice } {
  return {
    choose(i, lambda, options = {}) {
      const p = passProbabilities(i);
      const knob = options.willingnessToPayUsd !== undefined ? { willingnessToPayUsd: options.willingnessToPayUsd } : { lambda };
      const { candidates, best, rule } = candidatesAndRule(ladder, features[i]!, (id) => p[id]!, () => null, { ...knob, judgeCostRatio });
      const choice = chooseByThreshold(candidates, best.id, rule);
      const first = { model: choice.model, confidence: choice.passProbability };
      if (!options.cascade) return first;
      if (!cascadeEvidence) throw new Error('this strategy learnt no cascade evidence: escalation "cascade" needs the classifier');
      return { ...first, cascade: cascadePlanFor(candidates, best.id, rule, cascadeEvidence(i)) };
    },
  };
}
