import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ModelSpec } from '../../domain/catalog';
import type { HistoryTurn, OutputField, OutputSchema, TaskType } from '../../domain/request';
import { priceTokens } from '../../domain/cost';
import { ProviderError, type Completion, type CompletionRequest, type ModelProvider } from '../types';
import { DOMAIN_ALIASES, LATENCY_ASSUMPTIONS, SIMULATED_PROFILES, type SimulatedModelProfile } from './profiles';

export { DOMAIN_ALIASES, LATENCY_ASSUMPTIONS, SIMULATED_PROFILES } from './profiles';
export type { SimulatedModelProfile, SimulatedTaskProfile } from './profiles';

/*
 * The offline default provider. Nothing it returns is a model's answer: every text says "[simulated <model>]" and
 * every completion has origin 'simulated'. Outcomes follow profiles fitted from recorded data (profiles.ts).
 *
 * Determinism: a request's latent difficulty u = hash(requestId) in [0,1) is the same for every model, and a model
 * passes iff u < its pass rate for the task type and domain. So whenever a model with a lower pass rate passes, every
 * model with a higher one passes too, and a retried call gets the same answer.
 */

export interface SimulatedProviderOptions {
  /** Fraction of the simulated latency actually slept: 0 = no sleeping; default 0.02 so a demo is quick. */
  latencyScale?: number;
  /**
   * Injected transient failures, decided per (requestId, model, attempt), so Temporal's retries get through:
   * with rate 0.1 about one call in ten fails on a given attempt.
   */
  failures?: { rate: number; kind?: 'unavailable' | 'rate-limited' | 'timeout' };
}

/** Everything the provider decides for one (request, model), without sleeping. */
export interface SimulatedOutcome {
  model: string;
  /** Latent difficulty of the request, shared by every model. */
  difficulty: number;
  /** Pass rate for this task type and domain (profile rate x domain multiplier, capped at 1). */
  passRate: number;
  passes: boolean;
  /** In [0.95, 1] on a pass, in [0.2, 0.85] on a failure. */
  quality: number;
  text: string;
  inputTokens: number;
  outputTokens: number;
  /** Simulated latency (an assumption, see LATENCY_ASSUMPTIONS); complete() sleeps latencyMs x latencyScale. */
  latencyMs: number;
  /** The part of latencyMs before the first output token; the rest streams at the model's pace. */
  firstTokenMs: number;
  /** Priced with the catalog entry's prices when preview() was given a ModelSpec. */
  costUsd?: number;
}

export const SIMULATED_DEFAULT_LATENCY_SCALE = 0.02;

/** The characters the input-token estimate counts: the prompt plus every history turn's content. */
export function promptChars(prompt: string, history: readonly HistoryTurn[] = []): number {
  return history.reduce((n, t) => n + t.content.length, prompt.length);
}

/** A deterministic draw in [0, 1) from a key. */
export function unitHash(key: string): number {
  const digest = createHash('sha256').update(key).digest();
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

const LABELS = ['A', 'B', 'C', 'D'] as const;
const round3 = (x: number) => Math.round(x * 1000) / 1000;

export class SimulatedProvider implements ModelProvider {
  readonly name = 'simulated';
  readonly bills = false;
  private readonly latencyScale: number;
  private readonly failures: SimulatedProviderOptions['failures'];

  constructor(options: SimulatedProviderOptions = {}) {
    const scale = options.latencyScale ?? SIMULATED_DEFAULT_LATENCY_SCALE;
    if (!(scale >= 0) || !Number.isFinite(scale)) throw new Error(`latencyScale must be a finite number >= 0, got ${scale}`);
    const rate = options.failures?.rate;
    if (rate !== undefined && !(rate >= 0 && rate <= 1)) throw new Error(`failures.rate must be in [0, 1], got ${rate}`);
    this.latencyScale = scale;
    this.failures = options.failures;
  }

  /** The catalog ids the simulator has profiles for. */
  static knownModels(): string[] {
    return Object.keys(SIMULATED_PROFILES);
  }

  /**
   * The outcome complete() would return for this request and model, computed without sleeping or failing; analytics
   * uses it for counterfactuals (what would the other models have done?).
   */
  preview(
    requestId: string,
    model: ModelSpec | string,
    taskType: TaskType,
    domain: string,
    promptCharCount: number,
    outputSchema?: OutputSchema,
  ): SimulatedOutcome {
    const { id, profile } = this.profileOf(model);
    const task = profile.tasks[taskType] ?? profile.tasks.other;
    const passRate = Math.min(1, task.passRate * domainMultiplier(profile, domain));
    const difficulty = unitHash(`difficulty|${requestId}`);
    const passes = difficulty < passRate;
    const q = unitHash(`quality|${requestId}|${id}`);
    const quality = round3(passes ? 0.95 + 0.05 * q : 0.2 + 0.65 * q);
    // Output length: the profile's mean x a deterministic jitter in [0.75, 1.25).
    const jitter = 0.75 + 0.5 * unitHash(`length|${requestId}|${id}`);
    const outputTokens = Math.max(1, Math.round((task.outputChars / 4) * jitter));
    const inputTokens = Math.ceil(promptCharCount / 4);
    const latency = LATENCY_ASSUMPTIONS[id] ?? { timeToFirstTokenMs: 500, outputTokensPerSecond: 70 };
    const latencyJitter = 0.85 + 0.3 * unitHash(`latency|${requestId}|${id}`);
    const latencyMs = Math.round((latency.timeToFirstTokenMs + (outputTokens / latency.outputTokensPerSecond) * 1000) * latencyJitter);
    const firstTokenMs = Math.round(latency.timeToFirstTokenMs * latencyJitter);
    const text = simulatedText(id, requestId, taskType, passes, quality, outputSchema);
    return {
      model: id,
      difficulty,
      passRate,
      passes,
      quality,
      text,
      inputTokens,
      outputTokens,
      latencyMs,
      firstTokenMs,
      ...(typeof model === 'string' ? {} : { costUsd: priceTokens(model, inputTokens, outputTokens) }),
    };
  }

  async complete(request: CompletionRequest): Promise<Completion> {
    request.signal?.throwIfAborted();
    const outcome = this.preview(
      request.requestId,
      request.model,
      request.taskType,
      request.domain,
      promptChars(request.prompt, request.history),
      request.outputSchema,
    );
    const waitMs = outcome.latencyMs * this.latencyScale;
    if (waitMs > 0) {
      const started = performance.now();
      try {
        await sleep(waitMs, undefined, request.signal ? { signal: request.signal } : undefined);
      } catch (err) {
        if (request.signal?.aborted) {
          // As a streaming provider would: the tokens streamed before the abort, at the simulated pace.
          const streamed = (performance.now() - started) / this.latencyScale - outcome.firstTokenMs;
          const share = Math.min(1, Math.max(0, streamed / (outcome.latencyMs - outcome.firstTokenMs)));
          request.onUsage?.({ inputTokens: outcome.inputTokens, outputTokens: Math.min(Math.floor(outcome.outputTokens * share), request.maxOutputTokens ?? Infinity) });
          throw request.signal.reason;
        }
        throw err;
      }
    }
    if (this.failures && this.failures.rate > 0 && unitHash(`failure|${request.requestId}|${outcome.model}|${request.attempt}`) < this.failures.rate) {
      const kind = this.failures.kind ?? 'unavailable';
      throw new ProviderError(kind, `[simulated ${outcome.model}] injected transient failure (${kind}) on attempt ${request.attempt}`, {
        provider: this.name,
        ...(kind === 'rate-limited' ? { status: 429, retryAfterMs: 1000 } : kind === 'unavailable' ? { status: 503 } : {}),
      });
    }
    return {
      text: outcome.text,
      inputTokens: outcome.inputTokens,
      // As a real model does with max_tokens: the answer stops at the cap.
      outputTokens: Math.min(outcome.outputTokens, request.maxOutputTokens ?? Infinity),
      latencyMs: outcome.latencyMs,
      origin: 'simulated',
      recordedQuality: outcome.quality,
    };
  }

  private profileOf(model: ModelSpec | string): { id: string; profile: SimulatedModelProfile } {
    const candidates = typeof model === 'string' ? [model] : [model.id, ...(model.providerModel ? [model.providerModel] : [])];
    for (const id of candidates) {
      const profile = Object.prototype.hasOwnProperty.call(SIMULATED_PROFILES, id) ? SIMULATED_PROFILES[id] : undefined;
      if (profile) return { id, profile };
    }
    throw new ProviderError(
      'invalid-request',
      `the simulated provider has no profile for model "${candidates.join('" / "')}"; known models: ${SimulatedProvider.knownModels().join(', ')}`,
      { provider: 'simulated' },
    );
  }
}

function domainMultiplier(profile: SimulatedModelProfile, domain: string): number {
  const d = domain.trim().toLowerCase();
  const key = DOMAIN_ALIASES[d] ?? d;
  return Object.prototype.hasOwnProperty.call(profile.domains, key) ? profile.domains[key]!.multiplier : 1;
}

function simulatedText(model: string, requestId: string, taskType: TaskType, passes: boolean, quality: number, schema?: OutputSchema): string {
  const label = `[simulated ${model}]`;
  if (schema) return JSON.stringify(schemaAnswer(label, schema, passes));
  if (taskType === 'classification') {
    // Every passing model gives the request's "right" label; a failing one a different one.
    const right = Math.floor(unitHash(`label|${requestId}`) * LABELS.length);
    const shift = 1 + Math.floor(unitHash(`wrong-label|${requestId}|${model}`) * (LABELS.length - 1));
    return `${label} ${LABELS[passes ? right : (right + shift) % LABELS.length]}`;
  }
  return `${label} ${taskType} answer to request ${requestId} (simulated quality ${quality}; not a model's output)`;
}

/**
 * A JSON object for an outputSchema: on a pass every declared property with a value of its declared kind (an enum's
 * first value, an array of one item, a nested object filled the same way); on a failure the first required property
 * is missing (or, with nothing required, the first property has the wrong type), so a schema validator notices.
 * Nothing beyond the schema's properties is added, so a strict schema (additionalProperties: false) holds: the
 * label is in the string values, and the result's origin says 'simulated'.
 */
function schemaAnswer(label: string, schema: OutputSchema, passes: boolean): Record<string, unknown> {
  const answer = objectOf(schema.properties, label);
  if (!passes) {
    const victim = schema.required[0];
    if (victim !== undefined) delete answer[victim];
    else {
      const [first, field] = Object.entries(schema.properties)[0]!;
      answer[first] = field.type === 'string' ? 0 : `${label} wrong type`;
    }
  }
  return answer;
}

function objectOf(properties: Record<string, OutputField>, text: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(properties).map(([name, field]) => [name, valueOf(field, `${text} ${name}`)]));
}

function valueOf(field: OutputField, text: string): unknown {
  switch (field.type) {
    case 'string':
      return field.enum ? field.enum[0] : text;
    case 'number':
      return 0.5;
    case 'integer':
      return 1;
    case 'boolean':
      return true;
    case 'array':
      return [field.items ? valueOf(field.items, text) : text];
    case 'object':
      return field.properties ? objectOf(field.properties, text) : field.additionalProperties === false ? {} : { note: text };
  }
}
