import type { RoutingDecision } from '../../../domain/results';
import type { Rung } from '../../ladder';
import { decisionOfRule, findRule } from '../rules';
import type { StrategyDefinition } from '../types';
import { chooseArm } from './choose';
import { banditContext } from './context';
import { BanditPolicySchema, type BanditPolicy } from './policy';
import { foldOutcome, initialBanditState } from './state';
import type { ArmInfo, BanditSettings, BanditState } from './types';

export { BanditPolicySchema, type BanditPolicy } from './policy';

/** Arms for a catalog: every ladder model, its cost prior its blended price relative to the best model's. */
export function armsOf(ladder: readonly Rung[]): ArmInfo[] {
  const blended = (r: Rung) => r.inputUsdPer1M + r.outputUsdPer1M;
  const top = Math.max(...ladder.map(blended));
  return ladder.map((r) => ({ id: r.id, priceRatio: top > 0 ? blended(r) / top : 0 }));
}

export function banditSettings(policy: BanditPolicy): BanditSettings {
  const { algorithm, context, lambda, mu, explorationRate, forgetting, dedupWindow } = policy.bandit;
  return { algorithm, context, lambda, mu, explorationRate, forgetting, dedupWindow };
}

/**
 * A contextual bandit over first choices: it learns, from the gate's verdicts and what each request cost (its
 * escalations included), which model to try first per request context. Hard rules decide before it.
 */
export const banditStrategy: StrategyDefinition<BanditPolicy, typeof BanditPolicySchema> = {
  name: 'bandit',
  summary: 'contextual bandit (ε-greedy, Thompson, linear Thompson) over first choices, learning from outcomes; state in the banditState workflow',
  policySchema: BanditPolicySchema,
  create(policy, env) {
    const state = (env.learnedState as BanditState | undefined) ?? initialBanditState(banditSettings(policy), armsOf(env.ladder));
    const eligible = env.ladder.map((r) => r.id);
    return {
      decide({ request, features, random }): RoutingDecision {
        const hard = findRule(policy.bandit.hardRules, request, features);
        if (hard) return decisionOfRule(hard, env.ladder, policy.version, 'bandit');
        const context = banditContext(features, request);
        const choice = chooseArm(state, context, { random, eligible });
        return {
          model: choice.arm,
          confidence: choice.estimates[choice.arm]!.quality,
          confidenceAdjustment: 0,
          alternatives: eligible.filter((id) => id !== choice.arm),
          reason: choice.reason,
          strategy: 'bandit',
          policyVersion: policy.version,
          propensity: choice.propensity,
          context,
        };
      },
      learn: (outcome) => void foldOutcome(state, outcome),
    };
  },
  learning: {
    initialState: (policy, ladder) => initialBanditState(banditSettings(policy), armsOf(ladder)),
    stateCacheMs: (policy) => policy.bandit.stateCacheMs,
    continueAsNewAtHistoryLength: (policy) => policy.bandit.continueAsNewAtHistoryLength,
  },
};
