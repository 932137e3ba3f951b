import type { Attempt } from '../domain/results';
import type { NextStep } from './escalation';

/*
 * Cascade routing (Dekoninck, Baader & Vechev, "A Unified Approach to Routing and Cascading for LLMs", ICML 2025):
 * after a failed attempt the next model is not simply the next tier but the one whose expected gain is worth the
 * most for its price, given the request and what already failed — or none, and the request keeps its best answer.
 *
 * What a failure says about the other models is learnt from training outcomes as a logit shift: among training
 * requests where f failed, how much more (usually less) often m passed than the classifier predicted for those very
 * requests. The classifier's probabilities already know how hard a request looks; the shift is the residual that
 * f's failure adds. A near miss (a failed answer scoring at least `nearMissFrom`) has its own shift where training
 * had enough of them, so a near miss is not read as a refusal. With several failures the most pessimistic shift
 * applies (failures of similar models are one piece of evidence, not several: no naive-Bayes double counting).
 *
 * The price of a pass. With `willingnessToPayUsd` W (dollars per point of pass probability) a pass is worth
 * V = 100·W. Otherwise V = (ĉ_best + g)/λ, the failure price of the first-choice rule (costRule.ts), so one λ sets
 * both; λ = 0 makes V unbounded: always the likeliest model. The next model is argmax q_m·V − ĉ_m − g over the
 * untried models (q_m its shifted pass probability); the cascade stops when that is not positive.
 */

export const CASCADE_EVIDENCE_VERSION = 1;

/** What `train` learns for the cascade and stores in the classifier artefact. */
export interface CascadeEvidence {
  version: typeof CASCADE_EVIDENCE_VERSION;
  /** Index of the shift tables. */
  models: string[];
  /** A failed answer with a score at least this is a near miss. */
  nearMissFrom: number;
  /** farShift[m][f]: logit shift of m's pass probability once f failed with a score below nearMissFrom. */
  farShift: number[][];
  /** The same after a near miss of f; null where training had too few near misses of f (farShift applies). */
  nearShift: (number | null)[][];
  /** Training requests behind the tables. */
  examples: number;
}

/** What the cascade step needs for one request, decided at planning and kept in the workflow's history. */
export interface CascadePlan {
  /** The strategy's pass probability for every ladder model on this request. */
  passProbability: Record<string, number>;
  /** Every ladder model's expected call cost on this request (ĉ_m). */
  expectedCostUsd: Record<string, number>;
  /** One judgement (g). */
  judgeCostUsd: number;
  /** V, what one pass is worth on this request; null when unbounded (λ = 0). */
  passValueUsd: number | null;
  evidence: CascadeEvidence;
}

export type CascadeAttempt = Pick<Attempt, 'model' | 'verdict' | 'cause'> & { error?: string | undefined };

/** Examples behind a shift below which it is not trusted (0, or the far shift, is used instead). */
export const MIN_SHIFT_EXAMPLES = 20;
/** A failed answer scoring at least this share of the gate's threshold is a near miss. */
export const NEAR_MISS_SHARE = 0.5;
/** Pseudo-requests pulling each learnt rate towards the classifier's own prediction (no shift). */
const PRIOR_WEIGHT = 5;

const logit = (p: number) => {
  const q = Math.min(1 - 1e-6, Math.max(1e-6, p));
  return Math.log(q / (1 - q));
};
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

export interface CascadeTrainingRow {
  /** Recorded quality per model (absent where nothing was recorded). */
  qualities: Readonly<Record<string, number | undefined>>;
  /** The classifier's held-out pass probability per model for this request. */
  passProbability: Readonly<Record<string, number>>;
}

/** The shift s with Σ σ(logit p_i + s) = the smoothed observed passes (bisection; the sum rises with s). */
function residualShift(logits: readonly number[], passes: number): number {
  const n = logits.length;
  const predicted = logits.reduce((s, l) => s + sigmoid(l), 0);
  const target = ((passes + (PRIOR_WEIGHT * predicted) / n) * n) / (n + PRIOR_WEIGHT);
  let lo = -12;
  let hi = 12;
  for (let k = 0; k < 50; k++) {
    const mid = (lo + hi) / 2;
    if (logits.reduce((s, l) => s + sigmoid(l + mid), 0) < target) lo = mid;
    else hi = mid;
  }
  return Math.round(((lo + hi) / 2) * 1000) / 1000;
}

/** Learns the shift tables from training requests (their recorded qualities and held-out probabilities). */
export function learnCascadeEvidence(rows: readonly CascadeTrainingRow[], models: readonly string[], passThreshold: number): CascadeEvidence {
  const nearMissFrom = NEAR_MISS_SHARE * passThreshold;
  const table = (near: boolean) =>
    models.map((m) =>
      models.map((f) => {
        if (m === f) return null;
        const logits: number[] = [];
        let passes = 0;
        for (const row of rows) {
          const qf = row.qualities[f];
          const qm = row.qualities[m];
          if (qf === undefined || qm === undefined || qf >= passThreshold || qf >= nearMissFrom !== near) continue;
          logits.push(logit(row.passProbability[m]!));
          if (qm >= passThreshold) passes++;
        }
        return logits.length >= MIN_SHIFT_EXAMPLES ? residualShift(logits, passes) : null;
      }),
    );
  return {
    version: CASCADE_EVIDENCE_VERSION,
    models: [...models],
    nearMissFrom,
    farShift: table(false).map((row) => row.map((s) => s ?? 0)),
    nearShift: table(true),
    examples: rows.length,
  };
}

/** m's pass probability given the judged failures so far (the most pessimistic of their shifts). */
export function conditionalPassProbability(plan: CascadePlan, model: string, failures: readonly { model: string; score: number }[]): number {
  const { evidence } = plan;
  const m = evidence.models.indexOf(model);
  const p = plan.passProbability[model];
  if (m < 0 || p === undefined) throw new Error(`model "${model}" is not in the cascade's evidence`);
  let shift: number | undefined;
  for (const failure of failures) {
    const f = evidence.models.indexOf(failure.model);
    if (f < 0 || f === m) continue;
    const near = failure.score >= evidence.nearMissFrom ? evidence.nearShift[m]![f] : null;
    const s = near ?? evidence.farShift[m]![f]!;
    shift = shift === undefined ? s : Math.min(shift, s);
  }
  return shift === undefined ? p : sigmoid(logit(p) + shift);
}

interface Candidate {
  model: string;
  passProbability: number;
  costUsd: number;
  /** q·V − ĉ − g; +∞ with an unbounded V. */
  gainUsd: number;
}

/**
 * The cascade's next step: among the models not yet tried (only the best model once maxEscalations are spent), the
 * one with the largest expected gain net of its price; undefined when none is worth it. Calls that failed (no
 * answer) say nothing about quality, so only judged failures shift the probabilities; a failed call is not retried.
 */
export function cascadeStep(
  plan: { cascade: CascadePlan; ladder: readonly { id: string }[]; bestModel: string },
  attempts: readonly CascadeAttempt[],
  boundReached: boolean,
): NextStep | undefined {
  const tried = new Set(attempts.filter((a) => a.cause !== 'speculative' || a.verdict).map((a) => a.model));
  const failures = attempts.filter((a) => a.verdict && !a.verdict.passed).map((a) => ({ model: a.model, score: a.verdict!.score }));
  const { cascade } = plan;
  const open = plan.ladder.filter((r) => !tried.has(r.id) && (!boundReached || r.id === plan.bestModel));
  const candidates: Candidate[] = open.map((r) => {
    const passProbability = conditionalPassProbability(cascade, r.id, failures);
    const costUsd = cascade.expectedCostUsd[r.id]! + cascade.judgeCostUsd;
    return { model: r.id, passProbability, costUsd, gainUsd: cascade.passValueUsd === null ? Infinity : passProbability * cascade.passValueUsd - costUsd };
  });
  // Unbounded V: the likeliest model, the cheaper on ties; otherwise the largest net gain.
  const better = (a: Candidate, b: Candidate) =>
    cascade.passValueUsd === null ? b.passProbability > a.passProbability || (b.passProbability === a.passProbability && b.costUsd < a.costUsd) : b.gainUsd > a.gainUsd;
  const chosen = candidates.reduce<Candidate | undefined>((a, c) => (!a || better(a, c) ? c : a), undefined);
  if (!chosen || !(chosen.gainUsd > 0)) return undefined;
  const value = cascade.passValueUsd === null ? 'an unbounded pass value' : `p·V − cost = $${chosen.gainUsd.toPrecision(2)}`;
  return {
    model: chosen.model,
    cause: boundReached ? 'best-fallback' : 'escalation',
    reason: `cascade: ${chosen.model} p(pass | ${failures.map((f) => f.model).join(', ') || 'no judged answer'} failed)=${chosen.passProbability.toFixed(2)}, ${value}`,
  };
}

/**
 * The cascade's plan for one request from the cost rule's priced candidates (candidatesAndRule, costRule.ts): the
 * same ĉ_m, g and λ as the first choice, so one knob sets both. A willingness to pay W has already set
 * λ = (ĉ_best + g)/(100·W), so V comes out as 100·W.
 */
export function cascadePlanFor(
  candidates: readonly { id: string; expectedCostUsd: number; passProbability: number }[],
  bestId: string,
  rule: { lambda: number; judgeCostUsd: number },
  evidence: CascadeEvidence,
): CascadePlan {
  const best = candidates.find((c) => c.id === bestId);
  if (!best) throw new Error(`the best model "${bestId}" is not among the candidates`);
  return {
    passProbability: Object.fromEntries(candidates.map((c) => [c.id, c.passProbability])),
    expectedCostUsd: Object.fromEntries(candidates.map((c) => [c.id, c.expectedCostUsd])),
    judgeCostUsd: rule.judgeCostUsd,
    passValueUsd: rule.lambda > 0 ? (best.expectedCostUsd + rule.judgeCostUsd) / rule.lambda : null,
    evidence,
  };
}
