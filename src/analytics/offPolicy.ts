import type { DecisionLog } from '../domain/results';
import { ValidationError } from '../domain/validation';
import { bestModel, type Rung } from '../routing/ladder';
import { rulesChoice, type RulesPolicy } from '../routing/strategies/rules';

/*
 * Off-policy evaluation from the decision log: how another policy would have done on the logged traffic, by
 * inverse propensity scoring (Horvitz–Thompson): a logged request counts for the target policy when the target
 * would have made the same first choice, weighted by 1 / the propensity of the logged choice. Unbiased when every
 * logged propensity is the true probability and positive wherever the target chooses (the bandit's exploration floor).
 */

export interface OffPolicyEstimate {
  /** Logged requests that carry a propensity. */
  n: number;
  /** Of them, those where the target policy would have chosen the logged first choice. */
  matched: number;
  /** Mean reward of the logging policy itself (on-policy, no weighting). */
  loggedReward: number;
  /** IPS estimate of the target's mean reward, with its standard error. */
  ips: number;
  ipsStandardError: number;
  /** Self-normalised IPS: lower variance, slightly biased. */
  snips: number | null;
  /** (Σw)² / Σw²: how many requests the estimate is worth. */
  effectiveSampleSize: number;
}

/** The reward the bandit maximises, from a log row: kept quality − λ·cost ÷ the best model's cost on the request. */
export function loggedReward(log: DecisionLog, lambda: number): number {
  const best = log.costUsd + log.costSavedUsd;
  return log.qualityScore - (best > 0 ? lambda * (log.costUsd / best) : 0);
}

export function offPolicyEstimate(logs: readonly DecisionLog[], target: (log: DecisionLog) => string, lambda: number): OffPolicyEstimate {
  const rows = logs.filter((l) => l.propensity > 0);
  if (rows.length === 0) throw new Error('the decision log has no request with a propensity to weight');
  const terms = rows.map((l) => {
    const w = target(l) === l.selectedModel ? 1 / l.propensity : 0;
    return { w, r: loggedReward(l, lambda) };
  });
  const n = terms.length;
  const values = terms.map((t) => t.w * t.r);
  const ips = values.reduce((s, v) => s + v, 0) / n;
  const variance = n > 1 ? values.reduce((s, v) => s + (v - ips) ** 2, 0) / (n - 1) : 0;
  const sumW = terms.reduce((s, t) => s + t.w, 0);
  const sumW2 = terms.reduce((s, t) => s + t.w * t.w, 0);
  return {
    n,
    matched: terms.filter((t) => t.w > 0).length,
    loggedReward: terms.reduce((s, t) => s + t.r, 0) / n,
    ips,
    ipsStandardError: Math.sqrt(variance / n),
    snips: sumW > 0 ? terms.reduce((s, t) => s + t.w * t.r, 0) / sumW : null,
    effectiveSampleSize: sumW2 > 0 ? (sumW * sumW) / sumW2 : 0,
  };
}

/**
 * The target policies the log can score: a fixed model (`best`, `cheapest` or a catalog id) or the rules, which read
 * only what the log keeps of a request (its features); learned strategies would need the prompt, which it does not.
 */
export function offPolicyTarget(strategy: string | undefined, ladder: readonly Rung[], rulesPolicy: () => RulesPolicy): (log: DecisionLog) => string {
  if (strategy === 'rules') {
    const rules = rulesPolicy();
    return (log) => rulesChoice(rules, ladder, log);
  }
  const fixed = strategy === 'best' ? bestModel(ladder).id : strategy === 'cheapest' ? ladder[0]?.id : ladder.find((r) => r.id === strategy)?.id;
  if (!fixed) {
    const got = strategy === undefined ? 'nothing' : `"${strategy}"`;
    throw new ValidationError('command line', [{ path: '--strategy', message: `with --decision-log must be rules, best, cheapest or a catalog model (${ladder.map((r) => r.id).join(', ')}), got ${got}` }]);
  }
  return () => fixed;
}
