import type { Interval } from './model';

/** The two-sided 95 % normal quantile. */
const Z_95 = 1.959963984540054;

/**
 * Quality retention vs always-best from shadow samples: R = mean(routed) / mean(best), with a 95 % interval by the
 * delta method for a ratio of paired means. Var(R) ≈ Var(routed − R·best) / (n · mean(best)²): the pairing is kept
 * (both scores are of the same request, so their covariance shrinks the interval), it is closed-form and the same on
 * every run, and it costs nothing per report group; a bootstrap would need a seed and thousands of resamples per group
 * for an interval that at these sample sizes (tens to thousands) is no better.
 *
 * With one sample the variance is unknown, and when every residual is 0 (routed = R·best on every sample) it is 0:
 * a zero-width interval would claim a certainty n samples cannot give. Then the "rule of three" gives the width:
 * after n samples with no deviation seen, one of the full range (routed − R·best spans 1 + R, scores being 0..1)
 * still has up to 3/n chance at 95 %.
 *
 * Null without samples, and when the best model scored 0 on every sample (retention of nothing is undefined).
 * The low bound is clamped at 0 (scores are never negative); the high one is not at 1, routing can beat best.
 */
export function estimateRetention(samples: readonly { routedScore: number; bestScore: number }[]): Interval | null {
  const n = samples.length;
  if (n === 0) return null;
  const meanRouted = samples.reduce((sum, s) => sum + s.routedScore, 0) / n;
  const meanBest = samples.reduce((sum, s) => sum + s.bestScore, 0) / n;
  if (meanBest === 0) return null;
  const estimate = meanRouted / meanBest;
  // The residuals routed − R·best have mean 0 by construction of R.
  const variance = n > 1 ? samples.reduce((sum, s) => sum + (s.routedScore - estimate * s.bestScore) ** 2, 0) / (n - 1) : 0;
  // Below this the variance is rounding in the means, not spread in the samples.
  const halfWidth = variance > 1e-12 ? (Z_95 * Math.sqrt(variance / n)) / meanBest : ((3 / n) * (1 + estimate)) / meanBest;
  return { estimate, low: Math.max(0, estimate - halfWidth), high: estimate + halfWidth, samples: n };
}
