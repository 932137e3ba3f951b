import { getEncodingNameForModel, Tiktoken, type TiktokenBPE, type TiktokenEncoding, type TiktokenModel } from 'js-tiktoken/lite';
import type { ModelSpec } from '../domain/catalog';
import { estimateTokens, priceTokens } from '../domain/cost';

/*
 * A call's worst-case cost: its input tokens, counted as the provider will bill them, plus every output token it
 * may produce, at the model's prices. Runs in activities (the tokenizer's ranks are megabytes: never in a workflow).
 */

/** OpenAI's chat format adds a few tokens per message and primes the reply (the OpenAI cookbook's figures). */
const TOKENS_PER_MESSAGE = 3;
const REPLY_PRIMING_TOKENS = 3;

const encoders = new Map<TiktokenEncoding, Tiktoken>();
/** Loaded on first use and kept for the worker's life: building an encoder takes a few hundred milliseconds. */
function encoder(name: TiktokenEncoding): Tiktoken | undefined {
  let found = encoders.get(name);
  if (found) return found;
  let ranks: TiktokenBPE;
  if (name === 'o200k_base') ranks = require('js-tiktoken/ranks/o200k_base') as TiktokenBPE;
  else if (name === 'cl100k_base') ranks = require('js-tiktoken/ranks/cl100k_base') as TiktokenBPE;
  else return undefined;
  found = new Tiktoken((ranks as unknown as { default?: TiktokenBPE }).default ?? ranks);
  encoders.set(name, found);
  return found;
}

/**
 * The tokenizer of an OpenAI model behind the OpenAI-compatible provider, by the id the provider knows it by; none
 * for other models (a Llama behind vLLM, the simulated provider, which itself counts characters ÷ 4).
 */
export function tokenizerFor(model: Pick<ModelSpec, 'id' | 'provider' | 'providerModel'>): TiktokenEncoding | undefined {
  if (model.provider !== 'openai') return undefined;
  try {
    const name = getEncodingNameForModel((model.providerModel ?? model.id) as TiktokenModel);
    return name === 'o200k_base' || name === 'cl100k_base' ? name : undefined;
  } catch {
    return undefined; // js-tiktoken does not know the model: not an OpenAI one.
  }
}

export interface InputTokens {
  tokens: number;
  /** Characters ÷ 4, not a tokenizer's count. */
  estimated: boolean;
  encoding?: TiktokenEncoding;
}

export function countInputTokens(model: Pick<ModelSpec, 'id' | 'provider' | 'providerModel'>, messages: readonly { content: string }[]): InputTokens {
  const name = tokenizerFor(model);
  const enc = name && encoder(name);
  if (!name || !enc) return { tokens: messages.reduce((n, m) => n + estimateTokens(m.content), 0), estimated: true };
  const tokens = messages.reduce((n, m) => n + TOKENS_PER_MESSAGE + enc.encode(m.content).length, REPLY_PRIMING_TOKENS);
  return { tokens, estimated: false, encoding: name };
}

export interface WorstCase extends InputTokens {
  usd: number;
  maxOutputTokens: number;
}

export function worstCaseUsd(model: ModelSpec, messages: readonly { content: string }[], maxOutputTokens: number): WorstCase {
  const input = countInputTokens(model, messages);
  return { ...input, maxOutputTokens, usd: priceTokens(model, input.tokens, maxOutputTokens) };
}
