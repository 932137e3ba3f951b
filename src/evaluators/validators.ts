import { z } from 'zod';
import type { OutputSchema, RouteRequest } from '../domain/request';
import type { ModelResult } from '../domain/results';
import type { Evaluation, Evaluator } from './types';

/*
 * Cheap, deterministic checks that run before any paid scorer. Each one is pass (1) or fail (0) and costs
 * nothing, so an answer that is plainly unusable never pays for an LLM judge.
 */

const pass = (): Evaluation => ({ score: 1, reasons: [], costUsd: 0 });
const fail = (...reasons: string[]): Evaluation => ({ score: 0, reasons, costUsd: 0 });

export class EmptyAnswerValidator implements Evaluator {
  readonly name = 'empty';
  async evaluate(_request: RouteRequest, result: ModelResult): Promise<Evaluation> {
    return result.text.trim().length === 0 ? fail('answer is empty') : pass();
  }
}

const CANNOT = "(?: can't| cannot| can not| won't| am unable to|'m unable to| am not able to|'m not able to)";
const WHAT = '(?:that|this|your request|the request|such requests)\\b';

/**
 * Phrases models use to decline. Each names what is declined ("with that", "your request") because a legitimate
 * customer reply can well say "I'm sorry, but I can't find your parcel".
 */
export const REFUSAL_PATTERNS: readonly RegExp[] = [
  new RegExp(`\\bI${CANNOT} (?:help|assist)(?: you)? with ${WHAT}`, 'i'),
  new RegExp(`\\bI${CANNOT} (?:comply with|fulfil+|complete|provide) ${WHAT}`, 'i'),
  new RegExp(`\\bI(?:'m| am) sorry,? but I${CANNOT} (?:help|assist|comply|do that|provide that)\\b`, 'i'),
  /\bAs an AI(?: language model| assistant| model)?,? I\b/i,
  /\bI must (?:respectfully )?decline\b/i,
];

/** Refusals open the answer; looking only at the opening keeps quoted ticket text further down from matching. */
const REFUSAL_WINDOW_CHARS = 400;

export class RefusalValidator implements Evaluator {
  readonly name = 'refusal';
  constructor(private readonly patterns: readonly RegExp[] = REFUSAL_PATTERNS) {}

  async evaluate(_request: RouteRequest, result: ModelResult): Promise<Evaluation> {
    // Curly apostrophes are common in model output; the patterns are written with straight ones.
    const opening = result.text.slice(0, REFUSAL_WINDOW_CHARS).replace(/[\u2018\u2019]/g, "'");
    const hit = this.patterns.map((p) => opening.match(p)).find((m) => m !== null);
    return hit ? fail(`answer is a refusal ("${hit[0]}")`) : pass();
  }
}

const FIELD_TYPES: Record<OutputSchema['properties'][string]['type'], z.ZodTypeAny> = {
  string: z.string(),
  number: z.number().finite(),
  integer: z.number().int(),
  boolean: z.boolean(),
  array: z.array(z.unknown()),
  // z.record rejects arrays and null, which is what "object" means to a caller.
  object: z.record(z.unknown()),
};

/**
 * Turns the plain-data description of an expected JSON object into a zod schema. Optional fields may be null
 * (models commonly emit `null` for "not found"); extra fields are allowed, since callers read only what they named.
 */
export function compileOutputSchema(schema: OutputSchema): z.ZodObject<Record<string, z.ZodTypeAny>> {
  const required = new Set(schema.required);
  const shape: Record<string, z.ZodTypeAny> = {};
  for (const [name, field] of Object.entries(schema.properties)) {
    const base = FIELD_TYPES[field.type];
    shape[name] = required.has(name) ? base : base.nullable().optional();
  }
  return z.object(shape).passthrough();
}

/** The JSON text of an answer: the whole answer, or the body of its first ``` / ```json fenced block. */
export function extractJsonText(answer: string): string {
  const fenced = /```(?:json|JSON)?[ \t]*\r?\n?([\s\S]*?)```/.exec(answer);
  return (fenced?.[1] ?? answer).trim();
}

function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && Number.isInteger(value)) return 'integer';
  return typeof value;
}

function describeSchemaIssue(issue: z.ZodIssue, schema: OutputSchema, answer: Record<string, unknown>): string {
  const field = String(issue.path[0] ?? '(root)');
  const expected = schema.properties[field]?.type;
  if (!(field in answer)) return `field "${field}" is missing`;
  if (expected) return `field "${field}" must be ${expected}, got ${jsonTypeOf(answer[field])}`;
  return `field "${field}": ${issue.message}`;
}

export class OutputSchemaValidator implements Evaluator {
  readonly name = 'schema';

  async evaluate(request: RouteRequest, result: ModelResult): Promise<Evaluation> {
    const schema = request.outputSchema;
    if (!schema) return pass();
    let parsed: unknown;
    try {
      parsed = JSON.parse(extractJsonText(result.text));
    } catch (err) {
      return fail(`answer is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return fail(`answer must be a JSON object, got ${jsonTypeOf(parsed)}`);
    }
    const record = parsed as Record<string, unknown>;
    const checked = compileOutputSchema(schema).safeParse(record);
    if (checked.success) return pass();
    // One reason per field, so a caller sees every missing or mistyped field at once.
    const reasons = [...new Set(checked.error.issues.map((i) => describeSchemaIssue(i, schema, record)))];
    return fail(...reasons);
  }
}

export interface LengthLimits {
  /** How many times the expected size an answer may run before it counts as rambling. */
  factor: number;
  /** The same characters-per-token estimate the cost model uses. */
  charsPerToken: number;
  /** Short expected outputs (a label) still leave room for a sentence of explanation. */
  floorChars: number;
  /** Assumed when the request does not say how long the answer should be. */
  defaultExpectedTokens: number;
}

export const DEFAULT_LENGTH_LIMITS: LengthLimits = { factor: 8, charsPerToken: 4, floorChars: 2_000, defaultExpectedTokens: 1_000 };

/** Signs that an answer was cut off mid-way: an unclosed code fence or unbalanced JSON brackets. */
export function truncationReason(text: string): string | undefined {
  if ((text.match(/```/g) ?? []).length % 2 === 1) return 'answer looks truncated (unclosed code fence)';
  const body = extractJsonText(text);
  if (body.startsWith('{') || body.startsWith('[')) {
    let depth = 0;
    let inString = false;
    for (let i = 0; i < body.length; i++) {
      const c = body[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') depth--;
    }
    if (depth > 0 || inString) return 'answer looks truncated (unbalanced JSON)';
  }
  return undefined;
}

export class LengthValidator implements Evaluator {
  readonly name = 'length';
  constructor(private readonly limits: LengthLimits = DEFAULT_LENGTH_LIMITS) {}

  /** The longest answer accepted for `request`, in characters. */
  maxChars(request: RouteRequest): number {
    const expected = request.expectedOutputTokens ?? this.limits.defaultExpectedTokens;
    return Math.max(this.limits.floorChars, this.limits.factor * expected * this.limits.charsPerToken);
  }

  async evaluate(request: RouteRequest, result: ModelResult): Promise<Evaluation> {
    const limit = this.maxChars(request);
    if (result.text.length > limit) {
      return fail(`answer is ${result.text.length} characters, over the limit of ${limit} for this request`);
    }
    const truncated = truncationReason(result.text);
    return truncated ? fail(truncated) : pass();
  }
}

/** The validators every gate should run unless a policy says otherwise. */
export function defaultValidators(): Evaluator[] {
  return [new EmptyAnswerValidator(), new RefusalValidator(), new OutputSchemaValidator(), new LengthValidator()];
}
