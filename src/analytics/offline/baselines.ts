import type { CascadePlan } from '../../routing/cascade';
import type { ModelSpec } from '../../domain/catalog';
import { extractFeatures } from '../../routing/features';
import { bestModel, escalationLadder } from '../../routing/ladder';
import { routeByRules, type RulesPolicy } from '../../routing/strategies/rules';
import type { EvalRow } from './dataset';
import { hullQualityAt, nonDecreasingConvexHull, type CostQuality } from './metrics';
import { unitHash } from '../../routing/hash';

/*
 * Baseline routers. A router sees the whole evaluation row; only the oracle may read `outcomes` (it is the
 * per-prompt upper bound by definition). Every baseline runs through the same simulate path as a real strategy.
 */

export interface RouterChoice {
  model: string;
  /** 0..1: how sure the router is that the model passes; reported, not used by the evaluation. */
  confidence?: number;
  /** Escalate this request by the cascade (its plan) instead of the ladder. */
  cascade?: CascadePlan;
}
/** A routing strategy under evaluation: picks the first model for a row (learned routers must read only row.request). */
export type Router = (row: EvalRow) => RouterChoice;
/** A router family with a knob (λ, a threshold …) swept to trace a cost–quality curve. */
export type RouterFamily = (param: number) => Router;

/** Always the same model. */
export function singleModelRouter(model: string): Router {
  const choice = { model, confidence: 1 };
  return () => choice;
}

/** The catalog's cheapest model (first rung of the escalation ladder). */
export function cheapestModelId(catalog: readonly ModelSpec[]): string {
  const first = escalationLadder(catalog)[0];
  if (!first) throw new Error('the catalog is empty');
  return first.id;
}

/** The catalog's best model (bestModel of the escalation ladder: highest tier, priciest within it). */
export function bestModelId(catalog: readonly ModelSpec[]): string {
  return bestModel(escalationLadder(catalog)).id;
}

/**
 * The per-prompt oracle: the model with the lowest recorded cost on this row among those that pass
 * (quality >= threshold), else the highest-quality model (ties: the cheaper). Reads the recorded outcomes.
 */
export function oracleRouter(threshold: number): Router {
  return (row) => {
    let cheapestPassing: { model: string; cost: number } | undefined;
    let bestQuality: { model: string; quality: number; cost: number } | undefined;
    for (const model of Object.keys(row.outcomes).sort()) {
      const o = row.outcomes[model]!;
      if (o.quality >= threshold && (!cheapestPassing || o.costUsd < cheapestPassing.cost)) cheapestPassing = { model, cost: o.costUsd };
      if (!bestQuality || o.quality > bestQuality.quality || (o.quality === bestQuality.quality && o.costUsd < bestQuality.cost)) {
        bestQuality = { model, quality: o.quality, cost: o.costUsd };
      }
    }
    const model = cheapestPassing?.model ?? bestQuality?.model;
    if (!model) throw new Error(`row "${row.rowId}" has no outcomes`);
    return { model, confidence: cheapestPassing ? 1 : 0 };
  };
}

/** Uniform over the catalog models, decided per row by a seeded hash (reproducible). */
export function randomRouter(models: readonly string[], seed: number | string = 0): Router {
  if (models.length === 0) throw new Error('the random router needs at least one model');
  const sorted = [...models].sort();
  return (row) => ({ model: sorted[Math.floor(unitHash('random-router', seed, row.rowId) * sorted.length)]!, confidence: 1 / sorted.length });
}

/** The seed's rules strategy (routeByRules + extractFeatures, as the route activity runs it) over the eval catalog. */
export function rulesRouter(policy: RulesPolicy, catalog: readonly ModelSpec[]): Router {
  const ladder = escalationLadder(catalog);
  return (row) => {
    const decision = routeByRules(policy, ladder, row.request, extractFeatures(row.request));
    return { model: decision.model, confidence: decision.confidence };
  };
}

export interface SingleModelPoint extends CostQuality {
  model: string;
}

/**
 * Blind mixing, RouterBench's "zero router": sending each request at random to one of two consecutive models on the
 * cost–quality frontier of the single models reaches every point on the segment between them, so its curve is the
 * non-decreasing convex hull of the single-model points (mean cost, mean quality, no gate). Returns the hull vertices.
 */
export function blindMixingFrontier(singleModels: readonly SingleModelPoint[]): SingleModelPoint[] {
  return nonDecreasingConvexHull(singleModels);
}

/** Blind mixing's quality at a given mean cost (0 below the cheapest model, the best hull quality past the last). */
export function blindMixingQualityAt(frontier: readonly CostQuality[], cost: number): number {
  return hullQualityAt(frontier, cost);
}

export interface BaselineOptions {
  threshold: number;
  /** For the random router. */
  seed?: number | string;
  /** Adds the rules strategy when given (e.g. loadRulesPolicy('config/default-policy.json')). */
  policy?: RulesPolicy;
}

/**
 * The baseline routers by name: every single model (by id), "cheapest", "best", "oracle", "random", and "rules"
 * when a policy is given. Blind mixing is a curve, not a router: see blindMixingFrontier.
 */
export function baselineRouters(catalog: readonly ModelSpec[], options: BaselineOptions): Record<string, Router> {
  const routers: Record<string, Router> = {};
  for (const m of escalationLadder(catalog)) routers[m.id] = singleModelRouter(m.id);
  routers.cheapest = singleModelRouter(cheapestModelId(catalog));
  routers.best = singleModelRouter(bestModelId(catalog));
  routers.oracle = oracleRouter(options.threshold);
  routers.random = randomRouter(
    catalog.map((m) => m.id),
    options.seed ?? 0,
  );
  if (options.policy) routers.rules = rulesRouter(options.policy, catalog);
  return routers;
}
