import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseArm, PROPENSITY_DRAWS } from '../src/routing/strategies/bandit/choose';
import { CONTEXT_DIMENSION } from '../src/routing/strategies/bandit/dimension';
import {
  adminChangeProblem,
  applyAdminChange,
  foldFeedback,
  foldOutcome,
  initialBanditState,
  outcomeProblem,
  summarizeBanditState,
} from '../src/routing/strategies/bandit/state';
import type { ArmInfo, BanditSettings, BanditState } from '../src/routing/strategies/bandit/types';
import { seededRandom } from '../src/routing/random';
import { offPolicyEstimate } from '../src/analytics/offPolicy';
import type { DecisionLog } from '../src/domain/results';

/*
 * Synthetic bandits with known answers. Arms have a pass rate and a cost ratio; the reward is quality − λ·cost.
 * Seeds are fixed, so every run is the same run: no flakiness, and a failure reproduces.
 */

const ARMS: ArmInfo[] = [
  { id: 'cheap', priceRatio: 0.05 },
  { id: 'mid', priceRatio: 0.2 },
  { id: 'best', priceRatio: 1 },
];
const PASS: Record<string, number> = { cheap: 0.6, mid: 0.85, best: 0.95 };
const COST: Record<string, number> = { cheap: 0.05, mid: 0.2, best: 1 };

function settings(overrides: Partial<BanditSettings> = {}): BanditSettings {
  return { algorithm: 'thompson', context: 'global', lambda: 0.5, mu: 0, explorationRate: 0.02, forgetting: { kind: 'none' }, dedupWindow: 4096, ...overrides };
}

const vector = (bucketSide: number) => {
  const v = new Array<number>(CONTEXT_DIMENSION).fill(0);
  v[0] = 1;
  v[1] = bucketSide;
  return v;
};

interface World {
  pass: (arm: string, side: number) => number;
  cost: (arm: string) => number;
}
const STATIC: World = { pass: (arm) => PASS[arm]!, cost: (arm) => COST[arm]! };

/** Plays `rounds` rounds; returns the arms chosen. Contexts alternate between two buckets when `sides` is 2. */
function play(state: BanditState, rounds: number, seed: number, world: World = STATIC, sides = 1, offset = 0): string[] {
  const random = seededRandom(seed);
  const chosen: string[] = [];
  for (let t = 0; t < rounds; t++) {
    const side = sides === 2 ? t % 2 : 0;
    const context = { bucket: side ? 'B' : 'A', vector: vector(side) };
    const { arm, propensity } = chooseArm(state, context, { random });
    const quality = random() < world.pass(arm, side) ? 1 : 0;
    foldOutcome(state, { requestId: `r${String(offset + t).padStart(6, "0")}`, arm, context, quality, costUsd: world.cost(arm), bestCostUsd: 1, latencyMs: 100, propensity });
    chosen.push(arm);
  }
  return chosen;
}

const share = (arms: readonly string[], id: string) => arms.filter((a) => a === id).length / arms.length;

describe('bandit core: learning the right first choice', () => {
  for (const algorithm of ['thompson', 'epsilon-greedy', 'linear-thompson'] as const) {
    it(`${algorithm} converges to the arm with the best reward (mid: 0.85 − 0.5·0.2)`, () => {
      const state = initialBanditState(settings({ algorithm, explorationRate: algorithm === 'epsilon-greedy' ? 0.1 : 0.02 }), ARMS);
      const chosen = play(state, 1500, 11);
      assert.ok(share(chosen.slice(-300), 'mid') > 0.8, `${algorithm}: mid chosen ${share(chosen.slice(-300), 'mid')} of the last 300`);
    });
  }

  it('is cost-aware: with λ = 0 the best-quality arm wins; with λ = 2 the cheap arm does', () => {
    const quality = play(initialBanditState(settings({ lambda: 0 }), ARMS), 1500, 3);
    assert.ok(share(quality.slice(-300), 'best') > 0.7, `λ=0: best share ${share(quality.slice(-300), 'best')}`);
    const thrifty = play(initialBanditState(settings({ lambda: 2 }), ARMS), 1500, 3);
    assert.ok(share(thrifty.slice(-300), 'cheap') > 0.7, `λ=2: cheap share ${share(thrifty.slice(-300), 'cheap')}`);
  });

  it('learns a different best arm per bucket, and per context vector when linear', () => {
    // In bucket B the cheap model is as good as the best one, so it wins there; in A mid wins.
    const world: World = { pass: (arm, side) => (side === 1 && arm === 'cheap' ? 0.95 : PASS[arm]!), cost: (arm) => COST[arm]! };
    for (const algorithm of ['thompson', 'linear-thompson'] as const) {
      const chosen = play(initialBanditState(settings({ algorithm, context: 'bucket' }), ARMS), 2000, 5, world, 2);
      const last = chosen.slice(-600);
      const inA = last.filter((_, i) => i % 2 === 0);
      const inB = last.filter((_, i) => i % 2 === 1);
      assert.ok(share(inA, 'mid') > 0.7, `${algorithm} bucket A: mid ${share(inA, 'mid')}`);
      assert.ok(share(inB, 'cheap') > 0.7, `${algorithm} bucket B: cheap ${share(inB, 'cheap')}`);
    }
  });

  it('explores a new model soon after it is added, and never chooses a retired one', () => {
    const state = initialBanditState(settings(), ARMS);
    play(state, 600, 8);
    applyAdminChange(state, { kind: 'add-arm', arm: { id: 'newcomer', priceRatio: 0.1 } });
    const after = play(state, 400, 9, { pass: (arm) => (arm === 'newcomer' ? 0.95 : PASS[arm]!), cost: (arm) => (arm === 'newcomer' ? 0.1 : COST[arm]!) }, 1, 600);
    assert.ok(after.slice(0, 30).includes('newcomer'), 'the newcomer is tried within 30 rounds');
    assert.ok(share(after.slice(-100), 'newcomer') > 0.5, `and kept when it is better: ${share(after.slice(-100), 'newcomer')}`);
    applyAdminChange(state, { kind: 'retire-arm', arm: 'newcomer' });
    assert.ok(!play(state, 100, 10, STATIC, 1, 700).includes('newcomer'));
  });

  it('forgetting recovers from drift faster than remembering everything', () => {
    // After 1000 rounds mid starts failing; cheap becomes the best bet.
    const drifted: World = { pass: (arm) => (arm === 'mid' ? 0.3 : PASS[arm]!), cost: (arm) => COST[arm]! };
    const recovery = (forgetting: BanditSettings['forgetting']) => {
      const state = initialBanditState(settings({ forgetting }), ARMS);
      play(state, 1000, 21);
      return share(play(state, 300, 22, drifted, 1, 1000).slice(-150), 'mid');
    };
    const none = recovery({ kind: 'none' });
    for (const forgetting of [{ kind: 'discount', factor: 0.99 }, { kind: 'window', size: 200 }] as const) {
      const forgetful = recovery(forgetting);
      assert.ok(forgetful < none, `${forgetting.kind}: still picks the drifted arm ${forgetful} vs ${none} without forgetting`);
      assert.ok(forgetful < 0.2, `${forgetting.kind}: ${forgetful}`);
    }
  });
});

describe('bandit core: outcomes, feedback and propensities', () => {
  const context = { bucket: 'A', vector: vector(0) };
  const outcome = { requestId: 'r-1', arm: 'cheap', context, quality: 1, costUsd: 0.05, bestCostUsd: 1, latencyMs: 100, propensity: 0.5 };

  it('counts a requestId once, however often it is delivered', () => {
    const state = initialBanditState(settings(), ARMS);
    assert.equal(foldOutcome(state, outcome), 'counted');
    assert.equal(foldOutcome(state, { ...outcome }), 'duplicate');
    assert.equal(foldOutcome(state, { ...outcome, requestId: 'r-2' }), 'counted');
    const cheap = summarizeBanditState(state).arms.find((a) => a.id === 'cheap')!;
    assert.equal(cheap.pulls, 2);
    assert.deepEqual(state.counters, { outcomes: 2, duplicates: 1, feedback: 0, rejected: 0 });
  });

  it('the dedup window is bounded, and survives a JSON round trip (continue-as-new)', () => {
    const state = initialBanditState(settings({ dedupWindow: 100 }), ARMS);
    for (let i = 0; i < 250; i++) foldOutcome(state, { ...outcome, requestId: `w${i}` });
    assert.equal(state.recent.length, 100);
    const carried: BanditState = JSON.parse(JSON.stringify(state));
    assert.equal(foldOutcome(carried, { ...outcome, requestId: 'w249' }), 'duplicate');
    assert.equal(foldOutcome(carried, { ...outcome, requestId: 'w0' }), 'counted', 'outside the window');
  });

  it('feedback replaces the quality an outcome reported, once per requestId', () => {
    const state = initialBanditState(settings(), ARMS);
    foldOutcome(state, outcome);
    foldOutcome(state, { ...outcome, requestId: 'r-2' });
    const feedback = { requestId: 'r-1', arm: 'cheap', context, quality: 0, previousQuality: 1 };
    assert.equal(foldFeedback(state, feedback), 'counted');
    assert.equal(foldFeedback(state, feedback), 'duplicate');
    assert.equal(foldFeedback(state, { ...feedback, requestId: 'never-routed' }), 'rejected', 'feedback on an outcome the state never counted');
    const cheap = summarizeBanditState(state).arms.find((a) => a.id === 'cheap')!;
    assert.equal(cheap.pulls, 2);
    assert.equal(cheap.meanQuality, 0.5);
  });

  it('rejects a bad outcome with the field and rule, without folding it', () => {
    const state = initialBanditState(settings(), ARMS);
    assert.equal(outcomeProblem(state, { ...outcome, propensity: 0 }), 'propensity: must be in (0, 1], got 0');
    assert.match(outcomeProblem(state, { ...outcome, arm: 'ghost' }) ?? '', /^arm: must be one of the bandit's arms \(cheap, mid, best\), got "ghost"/);
    assert.equal(outcomeProblem(state, { ...outcome, bestCostUsd: 0 }), 'bestCostUsd: must be a number > 0, got 0');
    assert.equal(outcomeProblem(state, { ...outcome, context: { bucket: 'A', vector: [1] } }), `context.vector: must be ${CONTEXT_DIMENSION} finite numbers within ±100`);
    assert.equal(outcomeProblem(state, { ...outcome, costUsd: 5000 }), 'costUsd: must be at most 1000 × bestCostUsd, got 5000 against 1');
    assert.equal(foldOutcome(state, { ...outcome, quality: 2 }), 'rejected');
    assert.equal(state.counters.rejected, 1);
    assert.equal(state.step, 0);
  });

  it('ε-greedy reports exact propensities; Thompson\'s match how often the arm is drawn', () => {
    const greedy = initialBanditState(settings({ algorithm: 'epsilon-greedy', explorationRate: 0.3 }), ARMS);
    play(greedy, 200, 4);
    const g = chooseArm(greedy, context, { random: seededRandom(1) });
    assert.ok([0.1, 0.8].some((p) => Math.abs(g.propensity - p) < 1e-12), `ε-greedy propensity ${g.propensity}`);

    const state = initialBanditState(settings({ lambda: 0.3 }), ARMS);
    play(state, 40, 6); // early: the posterior still spreads over arms
    const random = seededRandom(77);
    const counts: Record<string, number> = {};
    const reported: Record<string, number[]> = {};
    for (let i = 0; i < 3000; i++) {
      const { arm, propensity } = chooseArm(state, context, { random });
      counts[arm] = (counts[arm] ?? 0) + 1;
      (reported[arm] ??= []).push(propensity);
      assert.ok(propensity > 0 && propensity <= 1);
    }
    for (const [arm, n] of Object.entries(counts)) {
      const mean = reported[arm]!.reduce((s, p) => s + p, 0) / reported[arm]!.length;
      assert.ok(Math.abs(mean - n / 3000) < 0.05, `${arm}: reported ${mean.toFixed(3)}, drawn ${(n / 3000).toFixed(3)} (${PROPENSITY_DRAWS} draws each)`);
    }
  });

  it('state stays compact: its JSON does not grow with the number of outcomes', () => {
    for (const algorithm of ['thompson', 'linear-thompson'] as const) {
      const state = initialBanditState(settings({ algorithm, context: 'bucket', dedupWindow: 1000 }), ARMS);
      play(state, 2000, 2, STATIC, 2);
      const size2k = JSON.stringify(state).length;
      play(state, 18_000, 3, STATIC, 2, 2000);
      assert.equal(state.counters.outcomes, 20_000);
      const size20k = JSON.stringify(state).length;
      assert.ok(size20k < size2k * 1.1, `${algorithm}: ${size2k} bytes after 2,000 outcomes, ${size20k} after 20,000`);
    }
  });
});

describe('bandit core: admin changes', () => {
  const state = initialBanditState(settings(), ARMS);
  const cases: [Parameters<typeof adminChangeProblem>[1], string][] = [
    [{ kind: 'settings', settings: { explorationRate: 1.5 } }, 'settings.explorationRate: must be between 0 and 1, got 1.5'],
    [{ kind: 'settings', settings: { lambda: -1 } }, 'settings.lambda: must be a number >= 0, got -1'],
    [{ kind: 'settings', settings: { forgetting: { kind: 'discount', factor: 1.2 } } }, 'settings.forgetting.factor: must be in (0, 1], got 1.2'],
    [{ kind: 'settings', settings: { forgetting: { kind: 'window', size: 2.5 } } }, 'settings.forgetting.size: must be a whole number of at least 4, got 2.5'],
    [{ kind: 'settings', settings: { dedupWindow: 0 } }, 'settings.dedupWindow: must be a whole number from 1 to 100000, got 0'],
    [{ kind: 'settings', settings: { temperature: 1 } as never }, 'settings: unknown setting(s) "temperature" (known: algorithm, context, lambda, mu, explorationRate, forgetting, dedupWindow)'],
    [{ kind: 'reset-arm', arm: 'ghost' }, 'arm: must be one of the bandit\'s arms (cheap, mid, best), got "ghost"'],
    [{ kind: 'add-arm', arm: { id: 'mid', priceRatio: 0.2 } }, 'arm.id: "mid" is already an arm (reset it, or un-retire it by adding under another id)'],
    [{ kind: 'add-arm', arm: { id: 'new', priceRatio: -1 } }, 'arm.priceRatio: must be a number >= 0, got -1'],
    [{ kind: 'explode' } as never, 'kind: must be one of "settings", "reset-arm", "add-arm", "retire-arm", got "explode"'],
  ];
  for (const [change, message] of cases) {
    it(`refuses ${JSON.stringify(change)}`, () => assert.equal(adminChangeProblem(state, change), message));
  }

  it('refuses to retire the last active arm; resets an arm to its prior', () => {
    const two = initialBanditState(settings(), ARMS.slice(0, 2));
    applyAdminChange(two, { kind: 'retire-arm', arm: 'cheap' });
    assert.equal(adminChangeProblem(two, { kind: 'retire-arm', arm: 'mid' }), 'arm: "mid" is the last active arm; add another before retiring it');
    play(two, 50, 1);
    assert.ok(summarizeBanditState(two).arms.find((a) => a.id === 'mid')!.pulls > 0);
    applyAdminChange(two, { kind: 'reset-arm', arm: 'mid' });
    assert.equal(summarizeBanditState(two).arms.find((a) => a.id === 'mid')!.pulls, 0);
  });
});

describe('off-policy evaluation from the decision log', () => {
  // Hand-computed: two requests logged with propensity 0.5, two with 0.25; rewards are kept quality − λ·cost ratio.
  const log = (requestId: string, selectedModel: string, propensity: number, qualityScore: number, costUsd: number) =>
    ({ requestId, selectedModel, propensity, qualityScore, costUsd, costSavedUsd: 1 - costUsd }) as unknown as DecisionLog;
  const logs = [log('a', 'cheap', 0.5, 1, 0.1), log('b', 'best', 0.5, 1, 1), log('c', 'cheap', 0.25, 0, 0.1), log('d', 'mid', 0.25, 1, 0.3)];

  it('weights the requests where the target agrees by 1 / propensity (IPS, SNIPS, effective sample size)', () => {
    const always = offPolicyEstimate(logs, () => 'cheap', 1);
    // Rewards: a 1 − 0.1 = 0.9 (w 2), c 0 − 0.1 = −0.1 (w 4); b and d do not match.
    assert.equal(always.matched, 2);
    assert.ok(Math.abs(always.ips - (2 * 0.9 + 4 * -0.1) / 4) < 1e-12);
    assert.ok(Math.abs(always.snips! - (2 * 0.9 + 4 * -0.1) / 6) < 1e-12);
    assert.ok(Math.abs(always.effectiveSampleSize - 36 / 20) < 1e-12);
    assert.ok(Math.abs(always.loggedReward - (0.9 + 0 - 0.1 + 0.7) / 4) < 1e-12);
    assert.equal(offPolicyEstimate(logs, () => 'nobody', 1).snips, null);
  });
});
