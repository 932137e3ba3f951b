import type { TierName } from '../../domain/tiers';
import type { Rung } from '../../routing/ladder';

/*
 * The offline latency model. ASSUMPTIONS, not measurements: no source in ../shared/data recorded latency. A call
 * takes time-to-first-token plus its recorded output tokens (outputChars ÷ 4) at a streaming rate, by the model's
 * price tercile in the evaluation catalog (tierName); the constants are of the order public throughput dashboards
 * report for models of those sizes. A judgement is a short answer from a small model. Use the figures to compare
 * routings on the same requests, not as predictions of a deployment's latency.
 */
export const OFFLINE_LATENCY_ASSUMPTIONS: Readonly<Record<TierName, { timeToFirstTokenMs: number; outputTokensPerSecond: number }>> = {
  small: { timeToFirstTokenMs: 350, outputTokensPerSecond: 110 },
  medium: { timeToFirstTokenMs: 450, outputTokensPerSecond: 80 },
  large: { timeToFirstTokenMs: 600, outputTokensPerSecond: 50 },
};
/** Output tokens of a judge's verdict (a score and a short reason). */
const JUDGE_OUTPUT_TOKENS = 20;

export function callLatencyMs(rung: Pick<Rung, 'tierName'>, outputTokens: number): number {
  const a = OFFLINE_LATENCY_ASSUMPTIONS[rung.tierName];
  return a.timeToFirstTokenMs + (outputTokens / a.outputTokensPerSecond) * 1000;
}

export const JUDGE_LATENCY_MS = callLatencyMs({ tierName: 'small' }, JUDGE_OUTPUT_TOKENS);

/** Output tokens a call has streamed after `elapsedMs` (none before the first token). */
export function streamedOutputTokens(rung: Pick<Rung, 'tierName'>, outputTokens: number, elapsedMs: number): number {
  const a = OFFLINE_LATENCY_ASSUMPTIONS[rung.tierName];
  return Math.min(outputTokens, Math.max(0, ((elapsedMs - a.timeToFirstTokenMs) / 1000) * a.outputTokensPerSecond));
}
