import { z } from 'zod';
import type { OutputField, OutputSchema, RouteRequest } from '../domain/request';
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

/** A field's zod schema: its type, and the values, items or properties it declares. */
function compileField(field: OutputField): z.ZodTypeAny {
  switch (field.type) {
    case 'string':
      return field.enum ? z.enum(field.enum as [string, ...string[]]) : z.string();
    case 'number':
      return z.number().finite();
    case 'integer':
      return z.number().int();
    case 'boolean':
      return z.boolean();
    case 'array':
      return z.array(field.items ? compileField(field.items) : z.unknown());
    case 'object':
      // z.record rejects arrays and null, which is what "object" means to a caller.
      return field.properties ? compileObject(field.properties, field.required ?? [], field.additionalProperties) : field.additionalProperties === false ? z.object({}).strict() : z.record(z.unknown());
  }
}

/**
 * Optional fields may be null (models commonly emit `null` for "not found"); extra fields are allowed, since callers
 * read only what they named, unless the schema says additionalProperties: false.
 */
function compileObject(properties: Record<string, OutputField>, required: readonly string[], additional: boolean | undefined): z.ZodObject<Record<string, z.ZodTypeAny>> {
  const must = new Set(required);
  const shape: Record<string, z.ZodTypeAny> = {};
  for (const [name, field] of Object.entries(properties)) {
    const base = compileField(field);
    shape[name] = must.has(name) ? base : base.nullable().optional();
  }
  const object = z.object(shape);
  return additional === false ? object.strict() : object.passthrough();
}

/** Turns the plain-data description of an expected JSON object into a zod schema. */
export function compileOutputSchema(schema: OutputSchema): z.ZodObject<Record<string, z.ZodTypeAny>> {
  return compileObject(schema.properties, schema.required, schema.additionalProperties);
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

/** The declared field at `path` (object keys and array indexes) of the answer, if the schema declares one. */
function fieldAt(schema: OutputSchema, path: readonly (string | number)[]): OutputField | undefined {
  let field: OutputField | undefined = { type: 'object', properties: schema.properties };
  for (const key of path) field = typeof key === 'number' ? field?.items : field?.properties?.[key];
  return field;
}

function valueAt(answer: unknown, path: readonly (string | number)[]): { found: boolean; value?: unknown } {
  let value: unknown = answer;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || !Object.prototype.hasOwnProperty.call(value, key)) return { found: false };
    value = (value as Record<string | number, unknown>)[key];
  }
  return { found: true, value };
}

/** `address.city`, `tags[2]`: where in the answer, as a caller writes it. */
const fieldName = (path: readonly (string | number)[]) => path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('') || '(root)';

function describeSchemaIssues(issue: z.ZodIssue, schema: OutputSchema, answer: Record<string, unknown>): string[] {
  if (issue.code === z.ZodIssueCode.unrecognized_keys) {
    return issue.keys.map((key) => `field "${fieldName([...issue.path, key])}" is not in the schema (additionalProperties: false)`);
  }
  const field = fieldName(issue.path);
  const at = valueAt(answer, issue.path);
  if (!at.found) return [`field "${field}" is missing`];
  if (issue.code === z.ZodIssueCode.invalid_enum_value) return [`field "${field}" must be one of ${issue.options.map((o) => JSON.stringify(o)).join(', ')}, got ${JSON.stringify(at.value)}`];
  const expected = fieldAt(schema, issue.path)?.type;
  if (expected) return [`field "${field}" must be ${expected}, got ${jsonTypeOf(at.value)}`];
  return [`field "${field}": ${issue.message}`];
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
    const reasons = [...new Set(checked.error.issues.flatMap((i) => describeSchemaIssues(i, schema, record)))];
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
