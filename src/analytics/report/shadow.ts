import type { Interval } from './model';

/**
 * Quality retention vs always-best from paired shadow samples: mean routed score ÷ mean best score, with a 95 %
 * interval by the delta method for a ratio of paired means (the pairs are correlated: the same request).
 */
export function estimateRetention(samples: readonly { routedScore: number; bestScore: number }[]): Interval | null {
  const n = samples.length;
  if (n === 0) return null;
  const my = samples.reduce((s, x) => s + x.routedScore, 0) / n;
  const mx = samples.reduce((s, x) => s + x.bestScore, 0) / n;
  if (mx === 0) return { estimate: my === 0 ? 1 : Infinity, low: 0, high: Infinity, samples: n };
  const r = my / mx;
  if (n === 1) return { estimate: r, low: 0, high: Infinity, samples: n };
  let vy = 0;
  let vx = 0;
  let cxy = 0;
  for (const s of samples) {
    vy += (s.routedScore - my) ** 2;
    vx += (s.bestScore - mx) ** 2;
    cxy += (s.routedScore - my) * (s.bestScore - mx);
  }
  [vy, vx, cxy] = [vy / (n - 1), vx / (n - 1), cxy / (n - 1)];
  const se = Math.sqrt(Math.max(0, vy - 2 * r * cxy + r * r * vx) / n) / mx;
  return { estimate: r, low: r - 1.96 * se, high: r + 1.96 * se, samples: n };
}
