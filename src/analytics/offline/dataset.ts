import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ModelSpec, TierName } from '../../domain/catalog';
import { BanditPolicySchema, type BanditPolicy } from '../../routing/strategies/bandit';
import { RulesPolicySchema, type RulesPolicy } from '../../routing/strategies/rules';
import { ID_PATTERN, RouteRequestSchema, type HistoryTurn, type RouteRequest, type TaskType } from '../../domain/request';
import { parseOrThrow } from '../../domain/validation';
import {
  loadPriceTable,
  parseOutcomeFile,
  recordedCostUsd,
  rowInputTokens,
  rowOutputTokens,
  turnText,
  type LoadedOutcomeRow,
  type OutcomeRow,
  type PriceTable,
} from '../../providers/replay';

/*
 * Offline evaluation data: recorded outcome rows (`../shared/data/*.jsonl`, DESIGN.md "Outcome data format") turned
 * into requests the router understands plus, per catalog model, what that model was recorded to do on them.
 * Everything here is pure except loadEvalDataset / loadRulesPolicy, which read files.
 *
 * Mapping decisions (documented because they shape every number downstream):
 *  - requestId = the row id, sanitised to the RouteRequest id rule when needed (requestIdToRowId maps back);
 *  - prompt = the row's prompt; history strings become user turns (role/content objects keep a valid role);
 *  - taskType from the recorded task, TASK_TYPE_BY_RECORDED_TASK; an unknown task is "other";
 *  - domain: MMLU subjects that are clearly medical or legal (the lists the simulated profiles use) map to
 *    "medical" / "legal"; everything else is "general" (finance subjects such as econometrics are not clearly a
 *    high-risk finance request, so they stay general);
 *  - cost: the recorded costUsd, else the row's tokens priced with models.json (recordedCostUsd);
 *  - missing outcomes: the catalog is every model recorded in at least minModelCoverage (default 50 %) of the rows,
 *    and a row lacking any catalog model is dropped (complete-case evaluation, listed in `dropped`). Every strategy
 *    and baseline is therefore scored on the same rows with the same models. On routerbench/train.jsonl this keeps
 *    all 11 models and drops 7 of 2,212 rows (4 rows recorded only gpt-3.5-turbo-1106, 3 lack it).
 */

/** Recorded task → the router's task type. */
export const TASK_TYPE_BY_RECORDED_TASK: Readonly<Record<string, TaskType>> = {
  'arc-challenge': 'classification',
  winogrande: 'classification',
  mmlu: 'qa',
  gsm8k: 'reasoning',
  mt_bench: 'generation',
  mbpp: 'code',
};

/** MMLU subjects that are clearly medical (as in src/providers/simulated/profiles.ts). */
export const MEDICAL_MMLU_SUBJECTS: readonly string[] = [
  'clinical_knowledge',
  'college_medicine',
  'professional_medicine',
  'medical_genetics',
  'anatomy',
  'virology',
  'nutrition',
];
/** MMLU subjects that are clearly legal (as in src/providers/simulated/profiles.ts). */
export const LEGAL_MMLU_SUBJECTS: readonly string[] = ['professional_law', 'international_law', 'jurisprudence'];

export function taskTypeOf(task: string): TaskType {
  return Object.prototype.hasOwnProperty.call(TASK_TYPE_BY_RECORDED_TASK, task) ? TASK_TYPE_BY_RECORDED_TASK[task]! : 'other';
}

export function domainOf(task: string, category: string | null): string {
  if (task !== 'mmlu' || !category) return 'general';
  if (MEDICAL_MMLU_SUBJECTS.includes(category)) return 'medical';
  if (LEGAL_MMLU_SUBJECTS.includes(category)) return 'legal';
  return 'general';
}

export interface ModelOutcome {
  /** Recorded quality, 0..1. */
  quality: number;
  /** Recorded cost of the call, or its tokens priced with models.json. */
  costUsd: number;
  /** The request's input tokens and the answer's output tokens (outputChars ÷ 4, else the task's default). */
  inputTokens: number;
  outputTokens: number;
}

export interface EvalRow {
  request: RouteRequest;
  /** Every catalog model's recorded outcome on this row (complete-case: all catalog models are present). */
  outcomes: Record<string, ModelOutcome>;
  /** The row id in the data file (request.requestId may be a sanitised form of it). */
  rowId: string;
  source: string;
  task: string;
  category: string | null;
}

export interface DroppedRow {
  rowId: string;
  /** file:line, or the row id when rows came from memory. */
  where: string;
  missing: string[];
}

export interface EvalDataset {
  rows: EvalRow[];
  /** The evaluation catalog: provider "replay", tiers by blended price (see buildEvalCatalog). */
  catalog: ModelSpec[];
  dropped: DroppedRow[];
  requestIdToRowId: Map<string, string>;
  /** Human-readable notes about what was dropped or left out, for reports. */
  notes: string[];
}

export interface DatasetOptions {
  /** Evaluate exactly these models (each must have a price); default: see minModelCoverage. */
  models?: readonly string[];
  /** Share of rows a model must be recorded in to join the catalog (default 0.5). */
  minModelCoverage?: number;
}


/** A RouteRequest-valid id for a row id: invalid characters become "_", long ids are cut and given a hash suffix. */
export function sanitizeRequestId(rowId: string): string {
  if (ID_PATTERN.test(rowId)) return rowId;
  let id = rowId.replace(/[^A-Za-z0-9._:-]/g, '_');
  if (!/^[A-Za-z0-9]/.test(id)) id = `r${id}`;
  if (id.length > 128 || id !== rowId) {
    const suffix = `:${fnv1a(rowId).toString(16).padStart(8, '0')}`;
    id = `${id.slice(0, 128 - suffix.length)}${suffix}`;
  }
  return id;
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const DEFAULT_TIMEOUTS = { startToCloseMs: 60_000, scheduleToCloseMs: 300_000 } as const;
/** Not recorded by any source; a placeholder large enough for every recorded prompt. */
const EVAL_CONTEXT_WINDOW = 200_000;

const blended = (p: { inputUsdPer1M: number; outputUsdPer1M: number }) => p.inputUsdPer1M + p.outputUsdPer1M;

/**
 * The evaluation catalog for the given models: provider "replay", prices from the price table, tier = rank of the
 * blended price (input + output per 1M; equal prices share a tier, 1 = cheapest), tierName by price-rank tercile:
 * with the models sorted by price and a tie group taking the position i of its first member among n models,
 * small when 3i < n − 1, medium when 3i < 2(n − 1), else large (so the priciest is always large, the cheapest small
 * when n > 1). Tiers can exceed the catalog schema's 10 on very large model sets; the offline path does not parse it.
 */
export function buildEvalCatalog(models: readonly string[], prices: PriceTable): ModelSpec[] {
  const priced = models.map((id) => {
    const price = 'get' in prices ? prices.get(id) : prices.find((p) => p.id === id);
    if (!price) throw new Error(`no price for model "${id}" in the price table (models.json): needed to rank it into a tier`);
    return { id, inputUsdPer1M: price.inputUsdPer1M, outputUsdPer1M: price.outputUsdPer1M };
  });
  priced.sort((a, b) => blended(a) - blended(b) || a.id.localeCompare(b.id));
  const n = priced.length;
  const specs: ModelSpec[] = [];
  let tier = 0;
  let groupStart = 0;
  priced.forEach((m, i) => {
    if (i === 0 || blended(m) !== blended(priced[i - 1]!)) {
      tier += 1;
      groupStart = i;
    }
    const tierName: TierName = 3 * groupStart < n - 1 ? 'small' : 3 * groupStart < 2 * (n - 1) ? 'medium' : 'large';
    specs.push({
      id: m.id,
      provider: 'replay',
      tier,
      tierName,
      inputUsdPer1M: m.inputUsdPer1M,
      outputUsdPer1M: m.outputUsdPer1M,
      contextWindow: EVAL_CONTEXT_WINDOW,
      timeouts: { ...DEFAULT_TIMEOUTS },
    });
  });
  return specs;
}

function historyTurn(turn: OutcomeRow['history'][number]): HistoryTurn {
  if (typeof turn === 'string') return { role: 'user', content: turn };
  const role = turn.role === 'assistant' || turn.role === 'system' ? turn.role : 'user';
  return { role, content: turnText(turn) };
}

function isLoaded(x: OutcomeRow | LoadedOutcomeRow): x is LoadedOutcomeRow {
  return typeof (x as LoadedOutcomeRow).line === 'number' && typeof (x as LoadedOutcomeRow).file === 'string' && 'row' in x;
}

/** Picks the catalog: explicit models, else those recorded in at least minCoverage of the rows (file order of first sighting). */
export function chooseModels(rows: readonly OutcomeRow[], options: DatasetOptions = {}): string[] {
  if (options.models) {
    if (options.models.length === 0) throw new Error('the evaluation needs at least one model');
    return [...new Set(options.models)];
  }
  const minCoverage = options.minModelCoverage ?? 0.5;
  const counts = new Map<string, number>();
  for (const row of rows) for (const m of Object.keys(row.outcomes)) counts.set(m, (counts.get(m) ?? 0) + 1);
  const chosen = [...counts].filter(([, c]) => c >= minCoverage * rows.length).map(([m]) => m);
  if (chosen.length === 0) throw new Error(`no model is recorded in at least ${(minCoverage * 100).toFixed(0)} % of the ${rows.length} rows`);
  return chosen;
}

/**
 * Builds evaluation rows from outcome rows (as loaded by the replay provider's parser, or plain rows). Throws an Error
 * naming file:line (or the row id) for a row that is not a valid request, or whose cost cannot be priced.
 */
export function buildEvalDataset(input: readonly (OutcomeRow | LoadedOutcomeRow)[], prices: PriceTable, options: DatasetOptions = {}): EvalDataset {
  const loaded = input.map((x) => (isLoaded(x) ? x : undefined));
  const rawRows = input.map((x) => (isLoaded(x) ? x.row : x));
  if (rawRows.length === 0) throw new Error('no outcome rows to evaluate');
  const models = chooseModels(rawRows, options);
  const catalog = buildEvalCatalog(models, prices);
  const catalogIds = catalog.map((m) => m.id);
  const rows: EvalRow[] = [];
  const dropped: DroppedRow[] = [];
  const requestIdToRowId = new Map<string, string>();
  const seenRowIds = new Map<string, string>();
  rawRows.forEach((row, i) => {
    const where = loaded[i] ? `${loaded[i]!.file}:${loaded[i]!.line}` : `row "${row.id}"`;
    const earlier = seenRowIds.get(row.id);
    if (earlier) throw new Error(`${where}: field "id": duplicate row id "${row.id}" (first at ${earlier})`);
    seenRowIds.set(row.id, where);
    const missing = catalogIds.filter((m) => !Object.prototype.hasOwnProperty.call(row.outcomes, m));
    if (missing.length > 0) {
      dropped.push({ rowId: row.id, where, missing });
      return;
    }
    let requestId = sanitizeRequestId(row.id);
    while (requestIdToRowId.has(requestId)) requestId = sanitizeRequestId(`${row.id}#${requestIdToRowId.size}`);
    let request: RouteRequest;
    try {
      request = parseOrThrow(
        RouteRequestSchema,
        {
          requestId,
          prompt: row.prompt,
          history: row.history.map(historyTurn),
          taskType: taskTypeOf(row.task),
          domain: domainOf(row.task, row.category),
        },
        'evaluation request',
      );
    } catch (err) {
      throw new Error(`${where}: row "${row.id}" is not a valid request: ${(err as Error).message}`);
    }
    const outcomes: Record<string, ModelOutcome> = {};
    for (const m of catalogIds) {
      let costUsd: number;
      try {
        costUsd = recordedCostUsd(row, m, prices);
      } catch (err) {
        throw new Error(`${where}: ${(err as Error).message}`);
      }
      outcomes[m] = { quality: row.outcomes[m]!.quality, costUsd, inputTokens: rowInputTokens(row), outputTokens: rowOutputTokens(row, m) };
    }
    requestIdToRowId.set(requestId, row.id);
    rows.push({ request, outcomes, rowId: row.id, source: row.source, task: row.task, category: row.category });
  });
  if (rows.length === 0) throw new Error(`every one of the ${rawRows.length} rows lacks an outcome for some of the models ${catalogIds.join(', ')}`);
  const notes: string[] = [];
  const left = [...new Set(rawRows.flatMap((r) => Object.keys(r.outcomes)))].filter((m) => !catalogIds.includes(m));
  if (left.length > 0) notes.push(`left out (recorded in too few rows): ${left.join(', ')}`);
  if (dropped.length > 0) {
    notes.push(
      `dropped ${dropped.length} of ${rawRows.length} rows lacking an outcome for a catalog model (complete-case evaluation): ` +
        dropped
          .slice(0, 5)
          .map((d) => `${d.rowId} (no ${d.missing.length > 3 ? `${d.missing.length} models` : d.missing.join(', ')})`)
          .join('; ') +
        (dropped.length > 5 ? '; …' : ''),
    );
  }
  return { rows, catalog, dropped, requestIdToRowId, notes };
}

/** models.json next to the data file or one directory up (../shared/data/routerbench/train.jsonl → ../shared/data/models.json). */
export function findPriceTable(dataPath: string): string {
  const candidates = [join(dirname(dataPath), 'models.json'), join(dirname(dirname(dataPath)), 'models.json')];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`no models.json price table beside ${dataPath} (looked for ${candidates.join(' and ')}); pass the prices explicitly`);
  return found;
}

export interface LoadDatasetOptions extends DatasetOptions {
  /** A models.json path or a loaded table; default: findPriceTable(first data file). */
  prices?: string | PriceTable;
}

/** Reads and validates one or more outcome files (errors name file:line and the field), then buildEvalDataset. */
export function loadEvalDataset(paths: readonly string[], options: LoadDatasetOptions = {}): EvalDataset {
  if (paths.length === 0) throw new Error('no data files given');
  const loaded: LoadedOutcomeRow[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`cannot read outcome file ${path}: ${(err as Error).message}`);
    }
    loaded.push(...parseOutcomeFile(path, text));
  }
  const pricePath = typeof options.prices === 'string' ? options.prices : options.prices ? undefined : findPriceTable(paths[0]!);
  let prices: PriceTable;
  if (pricePath === undefined) prices = options.prices as PriceTable;
  else {
    try {
      prices = loadPriceTable(pricePath);
    } catch (err) {
      const message = (err as Error).message;
      throw new Error(message.startsWith(pricePath) ? message : `price table ${pricePath}: ${message}`);
    }
  }
  return buildEvalDataset(loaded, prices, options);
}

function readPolicyJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read routing policy ${path}: ${(err as Error).message}`);
  }
}

/** Reads a rules policy (e.g. config/default-policy.json) for the rules strategy. */
export function loadRulesPolicy(path: string): RulesPolicy {
  return parseOrThrow(RulesPolicySchema, readPolicyJson(path), `rules policy ${path}`);
}

/** Reads a bandit policy (e.g. config/bandit-policy.json) for the online evaluation. */
export function loadBanditPolicy(path: string): BanditPolicy {
  return parseOrThrow(BanditPolicySchema, readPolicyJson(path), `bandit policy ${path}`);
}
