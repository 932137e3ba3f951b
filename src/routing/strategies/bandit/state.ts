import { CONTEXT_DIMENSION } from './dimension';
import { linearUpdateFor } from './linearState';
import { addMoments, momentsAt, observation, summarizeMoments } from './moments';
import {
  BANDIT_ALGORITHMS,
  BANDIT_STATE_VERSION,
  type AdminChange,
  type ArmInfo,
  type BanditFeedback,
  type BanditOutcome,
  type BanditSettings,
  type BanditState,
  type BanditSummary,
} from './types';

/*
 * Folding outcomes into the bandit's state, validating them and admin changes. Pure and deterministic: the
 * banditState workflow runs this code, and so does the offline evaluator.
 */

/** The key of an arm's statistics in a bucket; GLOBAL_BUCKET holds the arm's statistics over every request. */
export const GLOBAL_BUCKET = '*';
export const statKey = (arm: string, bucket: string) => `${arm}\u0000${bucket}`;

export function initialBanditState(settings: BanditSettings, arms: readonly ArmInfo[]): BanditState {
  return {
    version: BANDIT_STATE_VERSION,
    settings: { ...settings, forgetting: { ...settings.forgetting } },
    arms: arms.map((a) => ({ ...a })),
    step: 0,
    stats: {},
    linear: {},
    recent: [],
    counters: { outcomes: 0, duplicates: 0, feedback: 0, rejected: 0 },
  };
}

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** Every rule a setting breaks, as "settings.<field>: <rule>, got <value>". */
export function settingsProblems(settings: BanditSettings): string[] {
  const problems: string[] = [];
  const got = (v: unknown) => JSON.stringify(v);
  if (!BANDIT_ALGORITHMS.includes(settings.algorithm)) problems.push(`settings.algorithm: must be one of ${BANDIT_ALGORITHMS.join(', ')}, got ${got(settings.algorithm)}`);
  if (settings.context !== 'global' && settings.context !== 'bucket') problems.push(`settings.context: must be "global" or "bucket", got ${got(settings.context)}`);
  if (!finite(settings.lambda) || settings.lambda < 0) problems.push(`settings.lambda: must be a number >= 0, got ${got(settings.lambda)}`);
  if (!finite(settings.mu) || settings.mu < 0) problems.push(`settings.mu: must be a number >= 0, got ${got(settings.mu)}`);
  if (!finite(settings.explorationRate) || settings.explorationRate < 0 || settings.explorationRate > 1) {
    problems.push(`settings.explorationRate: must be between 0 and 1, got ${got(settings.explorationRate)}`);
  }
  const f = settings.forgetting as { kind?: unknown; factor?: unknown; size?: unknown } | undefined;
  if (!f || (f.kind !== 'none' && f.kind !== 'discount' && f.kind !== 'window')) problems.push(`settings.forgetting.kind: must be "none", "discount" or "window", got ${got(f?.kind)}`);
  else if (f.kind === 'discount' && !(finite(f.factor) && f.factor > 0 && f.factor <= 1)) problems.push(`settings.forgetting.factor: must be in (0, 1], got ${got(f.factor)}`);
  else if (f.kind === 'window' && !(Number.isInteger(f.size) && (f.size as number) >= 4)) problems.push(`settings.forgetting.size: must be a whole number of at least 4, got ${got(f.size)}`);
  if (!Number.isInteger(settings.dedupWindow) || settings.dedupWindow < 1 || settings.dedupWindow > 100_000) {
    problems.push(`settings.dedupWindow: must be a whole number from 1 to 100000, got ${got(settings.dedupWindow)}`);
  }
  return problems;
}

function armProblem(state: BanditState, arm: unknown): string | undefined {
  if (typeof arm !== 'string' || !state.arms.some((a) => a.id === arm)) return `arm: must be one of the bandit's arms (${state.arms.map((a) => a.id).join(', ')}), got ${JSON.stringify(arm)}`;
  return undefined;
}

function contextProblem(context: unknown): string | undefined {
  const c = context as { bucket?: unknown; vector?: unknown } | undefined;
  if (!c || typeof c.bucket !== 'string' || c.bucket.length === 0) return 'context.bucket: must be a non-empty string';
  // Bounded as well as finite: one absurd value would swamp an arm's sums for good.
  if (!Array.isArray(c.vector) || c.vector.length !== CONTEXT_DIMENSION || !c.vector.every((v) => finite(v) && Math.abs(v) <= 100)) {
    return `context.vector: must be ${CONTEXT_DIMENSION} finite numbers within ±100`;
  }
  return undefined;
}

/** Why an outcome cannot be folded (field and rule), or undefined. */
export function outcomeProblem(state: BanditState, outcome: BanditOutcome): string | undefined {
  if (typeof outcome?.requestId !== 'string' || outcome.requestId.length === 0) return 'requestId: must be a non-empty string';
  const inUnit = (x: unknown) => finite(x) && x >= 0 && x <= 1;
  return (
    armProblem(state, outcome.arm) ??
    contextProblem(outcome.context) ??
    (!inUnit(outcome.quality) ? `quality: must be between 0 and 1, got ${JSON.stringify(outcome.quality)}` : undefined) ??
    (!(finite(outcome.costUsd) && outcome.costUsd >= 0) ? `costUsd: must be a number >= 0, got ${JSON.stringify(outcome.costUsd)}` : undefined) ??
    (!(finite(outcome.bestCostUsd) && outcome.bestCostUsd > 0) ? `bestCostUsd: must be a number > 0, got ${JSON.stringify(outcome.bestCostUsd)}` : undefined) ??
    (outcome.costUsd / outcome.bestCostUsd > 1000 ? `costUsd: must be at most 1000 × bestCostUsd, got ${outcome.costUsd} against ${outcome.bestCostUsd}` : undefined) ??
    (!(finite(outcome.latencyMs) && outcome.latencyMs >= 0 && outcome.latencyMs <= 86_400_000) ? `latencyMs: must be a number from 0 to 86400000 (a day), got ${JSON.stringify(outcome.latencyMs)}` : undefined) ??
    (!(finite(outcome.propensity) && outcome.propensity > 0 && outcome.propensity <= 1) ? `propensity: must be in (0, 1], got ${JSON.stringify(outcome.propensity)}` : undefined)
  );
}

// The window's lookup set, rebuilt from the state's list after a continue-as-new (the state itself stays plain JSON).
const recentSets = new WeakMap<string[], Set<string>>();
function recentSet(state: BanditState): Set<string> {
  let set = recentSets.get(state.recent);
  if (!set) recentSets.set(state.recent, (set = new Set(state.recent)));
  return set;
}
function seen(state: BanditState, key: string): boolean {
  const set = recentSet(state);
  if (set.has(key)) return true;
  set.add(key);
  state.recent.push(key);
  while (state.recent.length > state.settings.dedupWindow) set.delete(state.recent.shift()!);
  return false;
}

export type FoldResult = 'counted' | 'duplicate' | 'rejected';

/** Folds one outcome: its arm's statistics, globally and in its bucket (and its linear model when linear). */
export function foldOutcome(state: BanditState, outcome: BanditOutcome): FoldResult {
  if (outcomeProblem(state, outcome)) {
    state.counters.rejected += 1;
    return 'rejected';
  }
  if (seen(state, outcome.requestId)) {
    state.counters.duplicates += 1;
    return 'duplicate';
  }
  const { forgetting } = state.settings;
  const y = { q: outcome.quality, c: outcome.costUsd / outcome.bestCostUsd, l: outcome.latencyMs / 1000 };
  const delta = observation(y.q, y.c, y.l);
  for (const bucket of [GLOBAL_BUCKET, outcome.context.bucket]) {
    const key = statKey(outcome.arm, bucket);
    state.stats[key] = addMoments(state.stats[key], delta, forgetting, state.step);
  }
  if (state.settings.algorithm === 'linear-thompson') linearUpdateFor(state, outcome.arm, outcome.context.vector, y);
  state.step += 1;
  state.counters.outcomes += 1;
  return 'counted';
}

/** Why a feedback cannot be folded, or undefined. */
export function feedbackProblem(state: BanditState, feedback: BanditFeedback): string | undefined {
  if (typeof feedback?.requestId !== 'string' || feedback.requestId.length === 0) return 'requestId: must be a non-empty string';
  const inUnit = (x: unknown) => finite(x) && x >= 0 && x <= 1;
  return (
    armProblem(state, feedback.arm) ??
    contextProblem(feedback.context) ??
    (!inUnit(feedback.quality) ? `quality: must be between 0 and 1, got ${JSON.stringify(feedback.quality)}` : undefined) ??
    (!inUnit(feedback.previousQuality) ? `previousQuality: must be between 0 and 1, got ${JSON.stringify(feedback.previousQuality)}` : undefined)
  );
}

/**
 * Replaces the quality an outcome reported by the user's verdict, counts unchanged, for an outcome still in the
 * dedup window. The correction weighs as a fresh observation (forgetting has discounted the original since).
 */
export function foldFeedback(state: BanditState, feedback: BanditFeedback): FoldResult {
  // Feedback corrects an outcome this state counted; one it never saw (or forgot, past the window) is not folded.
  if (feedbackProblem(state, feedback) || !recentSet(state).has(feedback.requestId)) {
    state.counters.rejected += 1;
    return 'rejected';
  }
  if (seen(state, `feedback:${feedback.requestId}`)) {
    state.counters.duplicates += 1;
    return 'duplicate';
  }
  const { quality: q1, previousQuality: q0 } = feedback;
  const delta = [0, q1 - q0, q1 * q1 - q0 * q0, 0, 0, 0, 0];
  for (const bucket of [GLOBAL_BUCKET, feedback.context.bucket]) {
    const key = statKey(feedback.arm, bucket);
    state.stats[key] = addMoments(state.stats[key], delta, state.settings.forgetting, state.step);
  }
  if (state.settings.algorithm === 'linear-thompson') linearUpdateFor(state, feedback.arm, feedback.context.vector, { q: q1 - q0, c: 0, l: 0 }, true);
  state.counters.feedback += 1;
  return 'counted';
}

const SETTING_KEYS: readonly (keyof BanditSettings)[] = ['algorithm', 'context', 'lambda', 'mu', 'explorationRate', 'forgetting', 'dedupWindow'];

/** Why an admin change is refused (field and rule), or undefined. Runs as the update's validator. */
export function adminChangeProblem(state: BanditState, change: AdminChange): string | undefined {
  switch (change?.kind) {
    case 'settings': {
      const given = change.settings ?? {};
      const unknown = Object.keys(given).filter((k) => !SETTING_KEYS.includes(k as keyof BanditSettings));
      if (unknown.length > 0) return `settings: unknown setting(s) ${unknown.map((k) => `"${k}"`).join(', ')} (known: ${SETTING_KEYS.join(', ')})`;
      if (Object.keys(given).length === 0) return 'settings: must change at least one setting';
      return settingsProblems({ ...state.settings, ...given })[0];
    }
    case 'reset-arm':
      return armProblem(state, change.arm);
    case 'retire-arm': {
      const problem = armProblem(state, change.arm);
      if (problem) return problem;
      if (!state.arms.some((a) => a.id !== change.arm && !a.retired)) return `arm: "${change.arm}" is the last active arm; add another before retiring it`;
      return undefined;
    }
    case 'add-arm': {
      const arm = change.arm;
      if (typeof arm?.id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/.test(arm.id)) return 'arm.id: must be a model id (letters, digits, ".", "_", ":", "/", "-")';
      if (state.arms.some((a) => a.id === arm.id)) return `arm.id: "${arm.id}" is already an arm (reset it, or un-retire it by adding under another id)`;
      if (!(finite(arm.priceRatio) && arm.priceRatio >= 0)) return `arm.priceRatio: must be a number >= 0, got ${JSON.stringify(arm.priceRatio)}`;
      return undefined;
    }
    default:
      return `kind: must be one of "settings", "reset-arm", "add-arm", "retire-arm", got ${JSON.stringify((change as { kind?: unknown })?.kind)}`;
  }
}

/** Applies a change that adminChangeProblem accepted. */
export function applyAdminChange(state: BanditState, change: AdminChange): void {
  switch (change.kind) {
    case 'settings': {
      const before = state.settings.algorithm;
      state.settings = { ...state.settings, ...change.settings };
      // A linear model starts from its prior; it is only kept while the algorithm uses it.
      if (before !== state.settings.algorithm && state.settings.algorithm !== 'linear-thompson') state.linear = {};
      const set = recentSets.get(state.recent);
      while (state.recent.length > state.settings.dedupWindow) set?.delete(state.recent.shift()!);
      return;
    }
    case 'reset-arm':
      for (const key of Object.keys(state.stats)) if (key.startsWith(statKey(change.arm, ''))) delete state.stats[key];
      delete state.linear[change.arm];
      return;
    case 'add-arm':
      state.arms.push({ id: change.arm.id, priceRatio: change.arm.priceRatio });
      return;
    case 'retire-arm':
      state.arms = state.arms.map((a) => (a.id === change.arm ? { ...a, retired: true } : a));
      return;
  }
}

export function summarizeBanditState(state: BanditState): BanditSummary {
  const { lambda, mu, forgetting } = state.settings;
  const buckets = new Set(Object.keys(state.stats).map((k) => k.slice(k.indexOf('\u0000') + 1)).filter((b) => b !== GLOBAL_BUCKET));
  return {
    version: state.version,
    settings: state.settings,
    step: state.step,
    counters: { ...state.counters },
    buckets: buckets.size,
    arms: state.arms.map((arm) => {
      const m = summarizeMoments(momentsAt(state.stats[statKey(arm.id, GLOBAL_BUCKET)], forgetting, state.step));
      const has = m.n > 1e-9;
      return {
        id: arm.id,
        retired: arm.retired ?? false,
        pulls: m.n,
        meanQuality: has ? m.quality : null,
        meanCostRatio: has ? m.cost : null,
        meanLatencyMs: has ? m.latency * 1000 : null,
        reward: has ? m.quality - lambda * m.cost - mu * m.latency : null,
      };
    }),
  };
}
