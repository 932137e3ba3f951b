import { linearPosterior, scoreDistribution } from './linear';
import { momentsAt } from './moments';
import { beta, normal } from './sampling';
import { GLOBAL_BUCKET, statKey } from './state';
import { CONTEXT_DIMENSION } from './dimension';
import type { ArmInfo, BanditState, Moments } from './types';

/*
 * Choosing the first model of the cascade. Every arm's reward is quality − λ·cost ratio − μ·latency, from its
 * statistics in the request's bucket, which borrow the arm's global statistics as a prior worth a few outcomes so
 * a new bucket is not cold. A new arm is optimistic where it matters: its cost prior is its price ratio (the price
 * of a first call that never escalates) and its latency prior 0, with a uniform Beta(1, 1) on quality.
 */

const QUALITY_PRIOR = { pass: 1, fail: 1 };
/**
 * Thompson draws come from the posterior with its spread scaled by this (Chapelle & Li, "An Empirical Evaluation of
 * Thompson Sampling", 2011: a narrower posterior than Bayes' explores less on near-equal arms and lost less in their
 * trials). Near-equal arms are the rule here: every cheap model's cascade ends at the same strong fallback.
 */
const POSTERIOR_SCALE = 0.5;
/** Pseudo-outcomes of the arm's global statistics that a bucket borrows. */
const POOLED_OUTCOMES = 4;
/** Weight of the cost and latency priors, in outcomes. */
const PRIOR_OUTCOMES = 1;
/** Thompson draws behind a reported propensity (the chosen arm's share of them, mixed with the exploration floor). */
export const PROPENSITY_DRAWS = 64;

export interface ArmEstimate {
  /** Posterior mean reward at the current λ and μ. */
  reward: number;
  /** Posterior mean quality (the decision's confidence that the arm passes). */
  quality: number;
  /** Effective outcomes behind it (in the bucket, plus what it borrowed). */
  pulls: number;
}

export interface ArmChoice {
  arm: string;
  /** The probability with which `arm` was chosen (exact for ε-greedy, estimated from PROPENSITY_DRAWS for Thompson). */
  propensity: number;
  estimates: Record<string, ArmEstimate>;
  /** Why, in a sentence: the decision's reason. */
  reason: string;
}

interface Posterior {
  arm: ArmInfo;
  n: number;
  /** Beta over the quality term. */
  pass: number;
  fail: number;
  costMean: number;
  costSd: number;
  latencyMean: number;
  latencySd: number;
}

function pooledMoments(state: BanditState, arm: string, bucket: string): Moments {
  const { forgetting, context } = state.settings;
  const global = momentsAt(state.stats[statKey(arm, GLOBAL_BUCKET)], forgetting, state.step);
  if (context === 'global') return global;
  const local = momentsAt(state.stats[statKey(arm, bucket)], forgetting, state.step);
  const share = global[0]! > 0 ? Math.min(1, POOLED_OUTCOMES / global[0]!) : 0;
  return local.map((x, i) => x + share * global[i]!);
}

function posterior(state: BanditState, arm: ArmInfo, bucket: string): Posterior {
  const [n, sq, , sc, scc, sl, sll] = pooledMoments(state, arm.id, bucket) as [number, number, number, number, number, number, number];
  const k = PRIOR_OUTCOMES + n;
  const costMean = (PRIOR_OUTCOMES * arm.priceRatio + sc) / k;
  const latencyMean = sl / k;
  // Variance around the posterior mean, floored so a few identical outcomes do not freeze an arm.
  const costVar = Math.max(0.01, (scc + PRIOR_OUTCOMES * arm.priceRatio ** 2) / k - costMean ** 2);
  const latencyVar = Math.max(1e-4, sll / k - latencyMean ** 2);
  return {
    arm,
    n,
    pass: QUALITY_PRIOR.pass + sq,
    fail: QUALITY_PRIOR.fail + Math.max(0, n - sq),
    costMean,
    costSd: Math.sqrt(costVar / k),
    latencyMean,
    latencySd: Math.sqrt(latencyVar / k),
  };
}

function meanReward(p: Posterior, lambda: number, mu: number): number {
  return p.pass / (p.pass + p.fail) - lambda * p.costMean - mu * p.latencyMean;
}

function activeArms(state: BanditState, eligible?: readonly string[]): ArmInfo[] {
  const arms = state.arms.filter((a) => !a.retired && (!eligible || eligible.includes(a.id)));
  if (arms.length === 0) throw new Error(`the bandit has no active arm among ${eligible ? eligible.join(', ') : 'its arms'}`);
  return arms;
}

const argmax = (xs: readonly number[]) => xs.reduce((best, x, i) => (x > xs[best]! ? i : best), 0);
const fmt = (x: number) => x.toFixed(2);

export function chooseArm(state: BanditState, context: { bucket: string; vector: readonly number[] }, options: { random: () => number; eligible?: readonly string[] }): ArmChoice {
  const { random } = options;
  const { algorithm, explorationRate: epsilon, lambda, mu, forgetting } = state.settings;
  const arms = activeArms(state, options.eligible);
  const K = arms.length;
  const where = state.settings.context === 'bucket' && algorithm !== 'linear-thompson' ? ` in bucket ${context.bucket}` : '';

  if (algorithm === 'linear-thompson') {
    if (context.vector.length !== CONTEXT_DIMENSION) throw new Error(`context vector must have ${CONTEXT_DIMENSION} numbers, got ${context.vector.length}`);
    const scores = arms.map((a) => {
      // The linear score's spread is scaled like the other Thompson draws.
      const post = linearPosterior(state.linear[a.id], CONTEXT_DIMENSION, { q: QUALITY_PRIOR.pass / (QUALITY_PRIOR.pass + QUALITY_PRIOR.fail), c: a.priceRatio }, forgetting, state.step);
      return { post, score: scoreDistribution(post, context.vector, lambda, mu) };
    });
    const draw = () => argmax(scores.map((s) => s.score.mean + POSTERIOR_SCALE * s.score.sd * normal(random)));
    const estimates = Object.fromEntries(arms.map((a, i) => [a.id, { reward: scores[i]!.score.mean, quality: Math.min(1, Math.max(0, scores[i]!.score.quality)), pulls: scores[i]!.post.n }]));
    return thompsonChoice(arms, draw, estimates, epsilon, random, (i, p) => {
      const s = scores[i]!.score;
      return `linear-thompson: ${arms[i]!.id} predicted reward ${fmt(s.mean)} ± ${fmt(s.sd)} for this request (quality ${fmt(s.quality)}, cost ratio ${fmt(s.cost)}), propensity ${fmt(p)}`;
    });
  }

  const posteriors = arms.map((a) => posterior(state, a, context.bucket));
  const estimates = Object.fromEntries(posteriors.map((p) => [p.arm.id, { reward: meanReward(p, lambda, mu), quality: p.pass / (p.pass + p.fail), pulls: p.n }]));

  if (algorithm === 'epsilon-greedy') {
    // Untried arms first (the optimistic start), then the best mean reward.
    const untried = posteriors.findIndex((p) => p.n < 1e-9);
    const greedy = untried >= 0 ? untried : argmax(posteriors.map((p) => meanReward(p, lambda, mu)));
    const explore = random() < epsilon;
    const chosen = explore ? Math.floor(random() * K) : greedy;
    const propensity = (chosen === greedy ? 1 - epsilon : 0) + epsilon / K;
    const p = posteriors[chosen]!;
    const why = explore ? `explored (ε=${epsilon})` : untried >= 0 ? 'untried, so tried first' : `best mean reward ${fmt(meanReward(p, lambda, mu))}`;
    return { arm: p.arm.id, propensity, estimates, reason: `epsilon-greedy: ${p.arm.id} ${why} over ${p.n.toFixed(1)} outcomes${where}, propensity ${fmt(propensity)}` };
  }

  // Scaling a Beta's spread by s is scaling its counts by 1/s² (same mean).
  const concentrate = 1 / POSTERIOR_SCALE ** 2;
  const draw = () =>
    argmax(
      posteriors.map(
        (p) =>
          beta(p.pass * concentrate, p.fail * concentrate, random) -
          lambda * (p.costMean + POSTERIOR_SCALE * p.costSd * normal(random)) -
          mu * (p.latencyMean + POSTERIOR_SCALE * p.latencySd * normal(random)),
      ),
    );
  return thompsonChoice(arms, draw, estimates, epsilon, random, (i, prop) => {
    const p = posteriors[i]!;
    return `thompson: ${p.arm.id} sampled the best reward (mean ${fmt(meanReward(p, lambda, mu))} over ${p.n.toFixed(1)} outcomes${where}), propensity ${fmt(prop)}`;
  });
}

/** A Thompson draw picks the arm (or the exploration floor does); more draws estimate its propensity. */
function thompsonChoice(
  arms: readonly ArmInfo[],
  draw: () => number,
  estimates: Record<string, ArmEstimate>,
  epsilon: number,
  random: () => number,
  reason: (index: number, propensity: number) => string,
): ArmChoice {
  const K = arms.length;
  const explore = random() < epsilon;
  const first = draw();
  const chosen = explore ? Math.floor(random() * K) : first;
  let wins = chosen === first ? 1 : 0;
  for (let i = 1; i < PROPENSITY_DRAWS; i++) if (draw() === chosen) wins += 1;
  const propensity = (1 - epsilon) * (wins / PROPENSITY_DRAWS) + epsilon / K;
  return { arm: arms[chosen]!.id, propensity, estimates, reason: reason(chosen, propensity) };
}
