import type { z } from 'zod';
import type { RouteRequest } from '../../domain/request';
import type { RequestFeatures, RoutingDecision } from '../../domain/results';
import type { PolicyBase } from '../../domain/policy';
import type { CascadePlan } from '../cascade';
import type { FoldAssignment } from '../folds';
import type { Rung } from '../ladder';

/*
 * The strategy seam. Every routing strategy is one folder under src/routing/strategies/ exporting a
 * StrategyDefinition, listed once in registry.ts; the route activity, the offline evaluator, the policy schema
 * and the CLI read that registry, and the workflow never changes for a new strategy.
 */

/** What a strategy sees of one request. */
export interface DecisionContext {
  request: RouteRequest;
  features: RequestFeatures;
  /**
   * Uniform draws in [0, 1) for strategies that explore. The route activity seeds it with the request id, so a
   * retried activity makes the same decision; the offline evaluator seeds it with the run's seed.
   */
  random: () => number;
}

/** A finished request, as a learning strategy learns from it (the bandit's reward inputs). */
export interface StrategyOutcome {
  requestId: string;
  /** The strategy's first choice: the arm that was pulled. */
  arm: string;
  context: { bucket: string; vector: number[] };
  /** 0..1: quality of the answer the request kept (the gate's score, or the user's later feedback). */
  quality: number;
  /** Everything the request cost: every model call, every escalation, every judgement. */
  costUsd: number;
  /** What always using the best model would have cost on the same request: the cost normaliser. */
  bestCostUsd: number;
  latencyMs: number;
  /** The probability with which the arm was chosen. */
  propensity: number;
}

export interface RoutingStrategy {
  decide(context: DecisionContext): RoutingDecision;
  /** Strategies with a pass probability for every model: the cascade's plan for this request (escalation "cascade"). */
  cascade?(context: DecisionContext): CascadePlan;
  /** Learning strategies fold an outcome into their state (offline; online the banditState workflow does it). */
  learn?(outcome: StrategyOutcome): void;
}

/** Provided by the shell (route activity, offline evaluator, CLI): the only way a strategy reaches the outside. */
export interface StrategyEnv {
  ladder: readonly Rung[];
  /**
   * Reads a file the policy names (an artefact) and parses it; the shell caches the parsed value per kind and path
   * until the file changes, so `parse` runs once per version of the file. `subject` names the file in errors.
   */
  load<T>(path: string, kind: string, parse: (text: string, subject: string) => T): T;
  /** A learning strategy's current state, as the shell read it (the banditState query); absent: a fresh state. */
  learnedState?: unknown;
}

/** One request with the gate's verdict for every model recorded on it: the material of training and cross-validation. */
export interface TrainingExample {
  request: RouteRequest;
  /** The seed's features of the request; extractFeatures(request) when absent. */
  features?: RequestFeatures;
  passes: Readonly<Record<string, boolean | undefined>>;
  /** The recorded quality per model, where known: the cascade learns near misses from it. */
  qualities?: Readonly<Record<string, number | undefined>>;
}

/** A cheap first choice for offline sweeps (no reason text). */
export interface FirstChoice {
  model: string;
  confidence: number;
  /** With HeldOutOptions.cascade: how the cascade escalates this example. */
  cascade?: CascadePlan;
}

export interface HeldOutOptions {
  /** Escalate by the cascade (its plan on each choice) instead of the ladder. */
  cascade?: boolean;
  /** The knob in money (costRule.ts), used instead of the λ the caller passes. */
  willingnessToPayUsd?: number;
}

/** A strategy fitted once per fold: example i is routed by the fit that never saw it, at any value of the knob. */
export interface CrossFitted {
  choose(example: number, knob: number, options?: HeldOutOptions): FirstChoice;
}

export interface FitOptions {
  /** Stored in the artefact; the pure core reads no clock. */
  createdAt: string;
  /** Labels are "passes" = recorded quality >= this. */
  passThreshold: number;
  /** Judge cost as a share of the cheapest model's call, for the cost rule of held-out choices. */
  judgeCostRatio: number;
  /** What the artefact was trained on (paths and digests), recorded in it. */
  trainingData: { path: string; sha256: string; rows: number }[];
  /** The seed of the fold assignment, recorded in the artefact. */
  seed: number;
  /** Neighbours, for kNN. */
  k?: number;
  onProgress?: (done: number, total: number) => void;
}

/** A learned strategy fitted on labelled requests: held-out choices, and the artefact a policy can name by path. */
export interface Fitted {
  heldOut: CrossFitted;
  /** JSON-serialisable, versioned, validated by the strategy's own parser when a policy loads it. */
  artefact: { operatingPoint?: unknown } & object;
  /** Per-model training figures for the `train` command's table (header, then rows). */
  report?: { header: string[]; rows: (string | number)[][] };
}

export interface StrategyDefinition<P extends { strategy: string } = { strategy: string }, S extends z.ZodTypeAny = z.ZodTypeAny> {
  name: P['strategy'];
  /** One line for the CLI's help and the README. */
  summary: string;
  /** The policy file's schema for this strategy (a strict object with `strategy: z.literal(name)`). */
  policySchema: S;
  /** Start-up checks beyond the schema, against the catalog (rule targets, artefacts); throws a ValidationError. */
  check?(policy: P, env: StrategyEnv): void;
  create(policy: P, env: StrategyEnv): RoutingStrategy;
  /** True when its strategies implement `cascade` (a pass probability for every model): escalation "cascade" is allowed. */
  cascades?: boolean;
  /**
   * Learned strategies: fit on labelled requests, once per fold for held-out offline evaluation and once on all of
   * them for the artefact. The knob (λ) is applied per held-out choice, so a cost-quality sweep refits nothing.
   */
  fit?(examples: readonly TrainingExample[], folds: FoldAssignment, ladder: readonly Rung[], options: FitOptions): Fitted;
  /**
   * Strategies that learn online: their state lives in the banditState entity workflow (id bandit-<policyId>),
   * which folds outcomes; a worker reads it, cached for `stateCacheMs`, and passes it as env.learnedState.
   */
  learning?: {
    initialState(policy: P, ladder: readonly Rung[]): unknown;
    stateCacheMs(policy: P): number;
    continueAsNewAtHistoryLength?(policy: P): number | undefined;
  };
  /** The policy that routes with an artefact this strategy's `fit` wrote (for `eval --model` and `--through-temporal`). */
  artefactPolicy?(base: PolicyBase, artefactPath: string, knobs: { lambda?: number; judgeCostRatio?: number }): P;
}
