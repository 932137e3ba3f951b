import type { Forgetting, Moments, StatEntry } from './types';

/*
 * Forgetting applied to sufficient statistics. Discount is lazy: an entry remembers the step it was last brought up
 * to date, and its weight now is factor^(elapsed steps), so an outcome costs O(1) however many arms and buckets
 * there are. A window keeps four blocks of size/4 steps and drops the oldest whole, approximating the last `size`
 * outcomes without keeping any of them.
 */

const WINDOW_BLOCKS = 4;

export function zeroMoments(): Moments {
  return [0, 0, 0, 0, 0, 0, 0];
}

function scaled(m: Moments, f: number): Moments {
  return f === 1 ? [...m] : m.map((x) => x * f);
}

function blockSize(forgetting: Extract<Forgetting, { kind: 'window' }>): number {
  return Math.max(1, Math.floor(forgetting.size / WINDOW_BLOCKS));
}

/** The entry's moments as they weigh at `step`. */
export function momentsAt(entry: StatEntry | undefined, forgetting: Forgetting, step: number): Moments {
  if (!entry) return zeroMoments();
  if ('blocks' in entry) {
    const oldest = forgetting.kind === 'window' ? Math.floor(step / blockSize(forgetting)) - WINDOW_BLOCKS + 1 : -Infinity;
    const sum = zeroMoments();
    for (const block of entry.blocks) if (block.id >= oldest) block.m.forEach((x, i) => (sum[i]! += x));
    return sum;
  }
  return forgetting.kind === 'discount' ? scaled(entry.m, Math.pow(forgetting.factor, step - entry.t)) : [...entry.m];
}

/** The moments of one observation with weight w (negative weights retract). */
export function observation(q: number, c: number, l: number, w = 1): Moments {
  return [w, w * q, w * q * q, w * c, w * c * c, w * l, w * l * l];
}

/** Adds `delta` to the entry at `step`, forgetting as configured; returns the entry to store. */
export function addMoments(entry: StatEntry | undefined, delta: Moments, forgetting: Forgetting, step: number): StatEntry {
  if (forgetting.kind === 'window') {
    const id = Math.floor(step / blockSize(forgetting));
    const blocks = entry && 'blocks' in entry ? entry.blocks.filter((b) => b.id > id - WINDOW_BLOCKS) : [];
    let current = blocks.find((b) => b.id === id);
    if (!current) blocks.push((current = { id, m: zeroMoments() }));
    delta.forEach((x, i) => (current!.m[i]! += x));
    return { blocks };
  }
  // A change of forgetting kind starts the entry over from its current weight.
  const now = entry && 'blocks' in entry ? momentsAt(entry, { kind: 'none' }, step) : momentsAt(entry, forgetting, step);
  delta.forEach((x, i) => (now[i]! += x));
  return { t: step, m: now };
}

export interface MomentSummary {
  n: number;
  quality: number;
  cost: number;
  latency: number;
  /** Sample variances (0 with fewer than two outcomes' weight). */
  qualityVar: number;
  costVar: number;
  latencyVar: number;
}

export function summarizeMoments(m: Moments): MomentSummary {
  const n = m[0]!;
  const mean = (s: number) => (n > 0 ? s / n : 0);
  const variance = (s: number, ss: number) => (n > 1 ? Math.max(0, (ss - (s * s) / n) / (n - 1)) : 0);
  return {
    n,
    quality: mean(m[1]!),
    cost: mean(m[3]!),
    latency: mean(m[5]!),
    qualityVar: variance(m[1]!, m[2]!),
    costVar: variance(m[3]!, m[4]!),
    latencyVar: variance(m[5]!, m[6]!),
  };
}
