import type { StrategyOutcome } from '../types';

/*
 * The contextual bandit's data: settings an admin may change, arms, outcomes and the compact state they fold into.
 * Plain JSON (no Maps, no classes): the state is a workflow's memory, carried across continue-as-new, and its size
 * is bounded whatever the number of outcomes (sufficient statistics and a bounded dedup window, never raw lists).
 */

export const BANDIT_ALGORITHMS = ['epsilon-greedy', 'thompson', 'linear-thompson'] as const;
export type BanditAlgorithm = (typeof BANDIT_ALGORITHMS)[number];

export type Forgetting =
  | { kind: 'none' }
  /** Every outcome multiplies all past evidence by `factor` (an EMA for ε-greedy). */
  | { kind: 'discount'; factor: number }
  /** Roughly the last `size` outcomes count (four blocks of size/4; the oldest block is dropped whole). */
  | { kind: 'window'; size: number };

export interface BanditSettings {
  algorithm: BanditAlgorithm;
  /** Statistics per arm only, or per arm and feature bucket (task type × domain risk × length band). Linear ignores it. */
  context: 'global' | 'bucket';
  /** Weight of cost in the reward, cost counted in units of the best model's price on the same request. */
  lambda: number;
  /** Weight of latency in the reward, per second. */
  mu: number;
  /** ε of ε-greedy; for Thompson sampling a uniform floor mixed in, so every arm keeps a propensity above 0. */
  explorationRate: number;
  forgetting: Forgetting;
  /** How many recent requestIds are remembered to count each outcome (and each feedback) once. */
  dedupWindow: number;
}

export interface ArmInfo {
  id: string;
  /** The model's price ÷ the best model's (blended per 1M tokens): the cost prior of an arm with no data. */
  priceRatio: number;
  /** A retired arm is never chosen; its statistics are kept. */
  retired?: boolean;
}

/** One finished request, as the bandit learns from it. */
export type BanditOutcome = StrategyOutcome;

/** A user's later verdict on a request's answer; it replaces the quality the outcome carried. */
export interface BanditFeedback {
  requestId: string;
  arm: string;
  context: StrategyOutcome['context'];
  /** 0..1, e.g. thumbs up 1, thumbs down 0. */
  quality: number;
  /** The quality the request's outcome reported (the gate's score of the kept answer). */
  previousQuality: number;
}

/**
 * Sufficient statistics of one (arm, bucket): evidence weight and the sums of quality, cost ratio and latency
 * (seconds) with their squares: [n, Σq, Σq², Σc, Σc², Σl, Σl²].
 */
export type Moments = number[];

/** Moments as of step `t` (discount is applied lazily: their weight now is factor^(step − t)), or per window block. */
export type StatEntry = { t: number; m: Moments } | { blocks: { id: number; m: Moments }[] };

/** Bayesian linear regression of the three reward components on the context vector (one per arm). */
export interface LinearArm {
  /** Step of the last update (lazy discount). */
  t: number;
  /** Σ x xᵀ, upper triangle row by row (d(d+1)/2 numbers). */
  xx: number[];
  /** Σ x·q, Σ x·c, Σ x·l. */
  xq: number[];
  xc: number[];
  xl: number[];
}

export interface BanditCounters {
  outcomes: number;
  duplicates: number;
  feedback: number;
  /** Outcomes or feedback that failed validation (unknown arm, bad numbers): never folded. */
  rejected: number;
}

export const BANDIT_STATE_VERSION = 1;

export interface BanditState {
  version: typeof BANDIT_STATE_VERSION;
  settings: BanditSettings;
  arms: ArmInfo[];
  /** Outcomes folded so far: the clock of forgetting. */
  step: number;
  /** By `${arm}\u0000${bucket}`; bucket "*" holds the arm's global statistics. */
  stats: Record<string, StatEntry>;
  /** By arm, when the algorithm is linear-thompson. */
  linear: Record<string, LinearArm>;
  /** The last dedupWindow keys (requestIds, and "feedback:<id>"), oldest first. */
  recent: string[];
  counters: BanditCounters;
}

export type AdminChange =
  | { kind: 'settings'; settings: Partial<BanditSettings> }
  | { kind: 'reset-arm'; arm: string }
  | { kind: 'add-arm'; arm: ArmInfo }
  | { kind: 'retire-arm'; arm: string };

export interface ArmSummary {
  id: string;
  retired: boolean;
  /** Effective number of outcomes (after forgetting) in the arm's global statistics. */
  pulls: number;
  meanQuality: number | null;
  meanCostRatio: number | null;
  meanLatencyMs: number | null;
  /** quality − λ·cost − μ·latency at the current settings, from the means; null before any outcome. */
  reward: number | null;
}

export interface BanditSummary {
  version: number;
  settings: BanditSettings;
  step: number;
  counters: BanditCounters;
  arms: ArmSummary[];
  /** Buckets that have their own statistics. */
  buckets: number;
}
