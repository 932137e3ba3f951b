import type { ModelSpec } from './catalog';

/** The token estimate the recorded data follows where a provider reports no usage: characters ÷ 4. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export function priceTokens(model: Pick<ModelSpec, 'inputUsdPer1M' | 'outputUsdPer1M'>, inputTokens: number, outputTokens: number): number {
  return (inputTokens * model.inputUsdPer1M + outputTokens * model.outputUsdPer1M) / 1_000_000;
}

/** One call's upper cost: the request's input tokens and as much output as the provider can have produced. */
export function callCeilingUsd(model: Pick<ModelSpec, 'inputUsdPer1M' | 'outputUsdPer1M'>, inputText: string, maxOutputTokens: number): number {
  return priceTokens(model, estimateTokens(inputText), maxOutputTokens);
}
