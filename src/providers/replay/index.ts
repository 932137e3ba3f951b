import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { ModelSpec } from '../../domain/catalog';
import { estimateTokens } from '../../domain/cost';
import { ProviderError, type Completion, type CompletionRequest, type ModelProvider } from '../types';

/*
 * Answers model calls from recorded outcome data (the `../shared/data/*.jsonl` format, see DESIGN.md "Outcome data
 * format"): the router sends requestId = row id, and the provider returns what that model was recorded to do on
 * that prompt. Nothing here is a live answer; every completion says so (origin 'replayed' and a labelled text).
 */

const OutcomeSchema = z
  .object({
    quality: z.number().min(0).max(1),
    costUsd: z.number().nonnegative().nullable(),
    outputChars: z.number().int().nonnegative().nullable(),
  })
  .passthrough();
export type RecordedOutcome = z.infer<typeof OutcomeSchema>;

/** A recorded turn: the data files carry plain strings; role/content objects are accepted too. */
const RecordedTurnSchema = z.union([z.string(), z.object({ role: z.string(), content: z.string() }).passthrough()]);

/** One line of an outcome file. Extra keys (e.g. RouteLLM's `contaminated`) are kept. */
export const OutcomeRowSchema = z
  .object({
    id: z.string().min(1),
    source: z.string().min(1),
    task: z.string().min(1),
    category: z.string().nullable(),
    prompt: z.string(),
    history: z.array(RecordedTurnSchema),
    outcomes: z.record(z.string().min(1), OutcomeSchema),
  })
  .passthrough();
export type OutcomeRow = z.infer<typeof OutcomeRowSchema>;

/** A row together with where it was read from, for error messages. */
export interface LoadedOutcomeRow {
  row: OutcomeRow;
  file: string;
  line: number;
}

/** Reads one JSONL file; a bad line throws an Error naming the file, the 1-based line number and the field. */
export function parseOutcomeFile(path: string, text: string = readFileSync(path, 'utf8')): LoadedOutcomeRow[] {
  const rows: LoadedOutcomeRow[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw.length === 0) continue;
    const line = i + 1;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (err) {
      throw new Error(`${path}:${line}: not valid JSON (${err instanceof Error ? err.message : String(err)})`);
    }
    const parsed = OutcomeRowSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.length > 0 ? issue.path.join('.') : '(row)';
      throw new Error(`${path}:${line}: field "${field}": ${issue.message}`);
    }
    rows.push({ row: parsed.data, file: path, line });
  }
  return rows;
}

/** Loads and validates every row of the given JSONL files, in file order. Row ids must be unique across files. */
export function loadOutcomeRows(paths: readonly string[]): OutcomeRow[] {
  const seen = new Map<string, string>();
  const rows: OutcomeRow[] = [];
  for (const path of paths) {
    for (const { row, file, line } of parseOutcomeFile(path)) {
      const where = `${file}:${line}`;
      const earlier = seen.get(row.id);
      if (earlier) throw new Error(`${where}: field "id": duplicate row id "${row.id}" (first at ${earlier})`);
      seen.set(row.id, where);
      rows.push(row);
    }
  }
  return rows;
}

/** The text of a recorded history turn. */
export function turnText(turn: OutcomeRow['history'][number]): string {
  return typeof turn === 'string' ? turn : turn.content;
}

/** Input tokens of a row: estimateTokens(prompt + history), the characters ÷ 4 rule the recorded costs follow. */
export function rowInputTokens(row: OutcomeRow): number {
  return estimateTokens(row.prompt + row.history.map(turnText).join(''));
}

/**
 * Assumed answer sizes (tokens) for recorded tasks whose source kept no output length. These are assumptions, not
 * recorded numbers: multiple-choice sources answer with a letter; MT-Bench answers are a few paragraphs.
 */
export const REPLAY_TASK_DEFAULT_OUTPUT_TOKENS: Readonly<Record<string, number>> = {
  mmlu: 1,
  'arc-challenge': 1,
  winogrande: 1,
  gsm8k: 100,
  mbpp: 250,
  mt_bench: 400,
};
/** For a recorded task not listed above. */
export const REPLAY_FALLBACK_OUTPUT_TOKENS = 250;

/** Output tokens of a recorded answer: outputChars ÷ 4 (rounded up) where recorded, else the task default. */
export function rowOutputTokens(row: OutcomeRow, model: string): number {
  const outcome = outcomeOf(row, model);
  if (outcome.outputChars !== null) return Math.ceil(outcome.outputChars / 4);
  return REPLAY_TASK_DEFAULT_OUTPUT_TOKENS[row.task] ?? REPLAY_FALLBACK_OUTPUT_TOKENS;
}

function outcomeOf(row: OutcomeRow, model: string): RecordedOutcome {
  const outcome = Object.prototype.hasOwnProperty.call(row.outcomes, model) ? row.outcomes[model] : undefined;
  if (!outcome) {
    throw new ProviderError(
      'invalid-request',
      `replay row "${row.id}" (${row.source}/${row.task}) has no recorded outcome for model "${model}"; recorded: ${Object.keys(row.outcomes).join(', ') || '(none)'}`,
      { provider: 'replay' },
    );
  }
  return outcome;
}

/** A price-table entry in the `../shared/data/models.json` format. */
export const ModelPriceSchema = z
  .object({ id: z.string().min(1), inputUsdPer1M: z.number().nonnegative(), outputUsdPer1M: z.number().nonnegative() })
  .passthrough();
export type ModelPrice = z.infer<typeof ModelPriceSchema>;
export type PriceTable = readonly ModelPrice[] | ReadonlyMap<string, Pick<ModelPrice, 'inputUsdPer1M' | 'outputUsdPer1M'>>;

/** Reads a models.json price table, validated. */
export function loadPriceTable(path: string): ModelPrice[] {
  const parsed = z.array(ModelPriceSchema).safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${path}: field "${issue.path.join('.')}": ${issue.message}`);
  }
  return parsed.data;
}

function priceOf(prices: PriceTable, model: string): Pick<ModelPrice, 'inputUsdPer1M' | 'outputUsdPer1M'> | undefined {
  if ('get' in prices) return prices.get(model);
  return prices.find((p) => p.id === model);
}

/**
 * What a row's answer by `model` cost: the recorded costUsd when the source kept one, else its tokens
 * (rowInputTokens, rowOutputTokens) priced with `prices`. Throws when the model has no outcome in the row, or when
 * the cost must be priced and the table has no entry for the model.
 */
export function recordedCostUsd(row: OutcomeRow, model: string, prices: PriceTable): number {
  const outcome = outcomeOf(row, model);
  if (outcome.costUsd !== null) return outcome.costUsd;
  const price = priceOf(prices, model);
  if (!price) throw new Error(`no price for model "${model}" in the price table (needed for row "${row.id}", which recorded no cost)`);
  return (rowInputTokens(row) * price.inputUsdPer1M + rowOutputTokens(row, model) * price.outputUsdPer1M) / 1_000_000;
}

export interface ReplayProviderOptions {
  /**
   * Latency is not recorded. Reported latency is an assumption: timeToFirstTokenMs + outputTokens / tokensPerSecond.
   */
  latency?: { timeToFirstTokenMs: number; outputTokensPerSecond: number };
  /** How much of the reported latency to actually wait (0 = none, the default). */
  latencyScale?: number;
}

/** Assumed latency for replayed answers (not recorded by any source): 500 ms to the first token, then 60 tokens/s. */
export const REPLAY_DEFAULT_LATENCY = { timeToFirstTokenMs: 500, outputTokensPerSecond: 60 } as const;

export class ReplayProvider implements ModelProvider {
  readonly name = 'replay';
  readonly bills = false;
  private readonly byId: ReadonlyMap<string, OutcomeRow>;
  private readonly latency: { timeToFirstTokenMs: number; outputTokensPerSecond: number };
  private readonly latencyScale: number;

  constructor(rows: readonly OutcomeRow[], options: ReplayProviderOptions = {}) {
    const byId = new Map<string, OutcomeRow>();
    for (const row of rows) {
      if (byId.has(row.id)) throw new Error(`duplicate replay row id "${row.id}"`);
      byId.set(row.id, row);
    }
    this.byId = byId;
    this.latency = options.latency ?? REPLAY_DEFAULT_LATENCY;
    this.latencyScale = options.latencyScale ?? 0;
  }

  static fromFiles(paths: readonly string[], options?: ReplayProviderOptions): ReplayProvider {
    return new ReplayProvider(loadOutcomeRows(paths), options);
  }

  get size(): number {
    return this.byId.size;
  }

  row(id: string): OutcomeRow | undefined {
    return this.byId.get(id);
  }

  async complete(request: CompletionRequest): Promise<Completion> {
    request.signal?.throwIfAborted();
    const row = this.byId.get(request.requestId);
    if (!row) {
      throw new ProviderError(
        'invalid-request',
        `no replay row with id "${request.requestId}" (the replay provider answers only requests whose requestId is a row id of its ${this.byId.size} loaded rows)`,
        { provider: this.name },
      );
    }
    const model = recordedModelName(request.model, row);
    const outcome = outcomeOf(row, model);
    const outputTokens = rowOutputTokens(row, model);
    const latencyMs = Math.round(this.latency.timeToFirstTokenMs + (outputTokens / this.latency.outputTokensPerSecond) * 1000);
    if (this.latencyScale > 0) await sleep(latencyMs * this.latencyScale, undefined, { signal: request.signal }).catch(rethrowAbort(request.signal));
    return {
      text: `[replayed ${model} from ${row.source}/${row.id}] recorded quality ${outcome.quality} on ${row.task}${row.category ? ` (${row.category})` : ''}`,
      inputTokens: rowInputTokens(row),
      outputTokens,
      latencyMs,
      origin: 'replayed',
      recordedQuality: outcome.quality,
      // Recorded costs come from the source's own token counts, which chars/4 only approximates.
      ...(outcome.costUsd !== null ? { recordedCostUsd: outcome.costUsd } : {}),
    };
  }
}

/** The catalog id when the row recorded it, else the provider's name for the model (providerModel). */
function recordedModelName(model: ModelSpec, row: OutcomeRow): string {
  if (Object.prototype.hasOwnProperty.call(row.outcomes, model.id)) return model.id;
  if (model.providerModel && Object.prototype.hasOwnProperty.call(row.outcomes, model.providerModel)) return model.providerModel;
  return model.id;
}

function rethrowAbort(signal: AbortSignal | undefined): (err: unknown) => never {
  return (err) => {
    if (signal?.aborted) throw signal.reason;
    throw err;
  };
}
