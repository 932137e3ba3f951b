import { z } from 'zod';

/** Task types the router knows how to reason about; anything else is "other". */
export const TASK_TYPES = [
  'classification',
  'extraction',
  'reasoning',
  'generation',
  'summarization',
  'qa',
  'code',
  'other',
] as const;
export const TaskTypeSchema = z.enum(TASK_TYPES);
export type TaskType = z.infer<typeof TaskTypeSchema>;

/** The seed's QuickShip request attributes: who is asking, and how much waiting matters. */
export const CUSTOMER_TIERS = ['free', 'standard', 'premium', 'enterprise'] as const;
export const CustomerTierSchema = z.enum(CUSTOMER_TIERS);
export type CustomerTier = z.infer<typeof CustomerTierSchema>;
export const TIME_SENSITIVITIES = ['low', 'normal', 'high'] as const;
export const TimeSensitivitySchema = z.enum(TIME_SENSITIVITIES);
export type TimeSensitivity = z.infer<typeof TimeSensitivitySchema>;

/**
 * A data description of the JSON object an extraction request expects back. It is plain data (not a zod object)
 * because it crosses the wire and the workflow history; the quality gate compiles it into a zod schema. It is the
 * part of JSON Schema the gate checks: a field's type; for a string its allowed values (enum); for an array its
 * items; for an object its properties, which of them are required, and whether others are refused
 * (additionalProperties: false). Fields nest at most OUTPUT_SCHEMA_MAX_DEPTH levels deep.
 */
export const OUTPUT_FIELD_TYPES = ['string', 'number', 'integer', 'boolean', 'array', 'object'] as const;
export const OutputFieldTypeSchema = z.enum(OUTPUT_FIELD_TYPES);
export type OutputFieldType = z.infer<typeof OutputFieldTypeSchema>;
/** OpenAI's structured outputs allow 10 levels of nesting; a schema nesting deeper is refused. */
export const OUTPUT_SCHEMA_MAX_DEPTH = 10;

export interface OutputField {
  type: OutputFieldType;
  /** type "string": the only values allowed. */
  enum?: string[];
  /** type "array": what every element must be. */
  items?: OutputField;
  /** type "object": its fields; `required` names those that must be present; false refuses any other field. */
  properties?: Record<string, OutputField>;
  required?: string[];
  additionalProperties?: boolean;
}

/** An object's properties, required and additionalProperties: the same rules at the top and nested. */
function checkObjectParts(parts: Pick<OutputField, 'properties' | 'required'>, ctx: z.RefinementCtx): void {
  for (const [i, name] of (parts.required ?? []).entries()) {
    if (!parts.properties || !(name in parts.properties)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['required', i], message: `names "${name}", which is not one of properties` });
    }
  }
}

const KEYWORD_OF: Record<string, OutputFieldType> = { enum: 'string', items: 'array', properties: 'object', required: 'object', additionalProperties: 'object' };

const propertyNames = z.string().min(1);

export const OutputFieldSchema: z.ZodType<OutputField> = z.lazy(() =>
  z
    .object({
      type: OutputFieldTypeSchema,
      enum: z
        .array(z.string())
        .min(1, 'must list at least one value')
        .refine((values) => new Set(values).size === values.length, { message: 'must not repeat a value' })
        .optional(),
      items: OutputFieldSchema.optional(),
      properties: z.record(propertyNames, OutputFieldSchema).optional(),
      required: z.array(z.string().min(1)).optional(),
      additionalProperties: z.boolean().optional(),
    })
    .strict()
    .superRefine((field, ctx) => {
      for (const [keyword, type] of Object.entries(KEYWORD_OF)) {
        if (field[keyword as keyof OutputField] !== undefined && field.type !== type) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, path: [keyword], message: `is only for type "${type}", not "${field.type}"` });
        }
      }
      checkObjectParts(field, ctx);
    }),
);

/** The level of the deepest field: the top-level fields are at 1, their properties or items at 2, and so on. */
export function outputSchemaDepth(properties: Record<string, OutputField>, level = 1): number {
  const deepest = (field: OutputField, at: number): number =>
    Math.max(at, field.properties ? outputSchemaDepth(field.properties, at + 1) : 0, field.items ? deepest(field.items, at + 1) : 0);
  return Math.max(level, ...Object.values(properties).map((field) => deepest(field, level)));
}

export const OutputSchemaSchema = z
  .object({
    type: z.literal('object'),
    properties: z
      .record(propertyNames, OutputFieldSchema)
      .refine((p) => Object.keys(p).length > 0, { message: 'must declare at least one property' }),
    required: z.array(z.string().min(1)).default([]),
    /** false: an answer with a field beyond properties fails the gate (JSON Schema's default, true, allows it). */
    additionalProperties: z.boolean().optional(),
  })
  .strict()
  .superRefine((schema, ctx) => {
    checkObjectParts(schema, ctx);
    const depth = outputSchemaDepth(schema.properties);
    if (depth > OUTPUT_SCHEMA_MAX_DEPTH) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['properties'], message: `nests ${depth} levels deep (each object's properties and each array's items are a level); at most ${OUTPUT_SCHEMA_MAX_DEPTH}` });
    }
  });
export type OutputSchema = z.infer<typeof OutputSchemaSchema>;

/**
 * Size limits. Temporal refuses a payload over 2 MB and every activity input carries the request, so prompt and
 * history travel inline only up to INLINE_CONTENT_LIMIT characters; above it, a claim-check carries them (stored
 * once by content hash, the history holds the reference), up to MAX_CONTENT_CHARS in all.
 */
export const INLINE_CONTENT_LIMIT = 64 * 1024;
export const MAX_CONTENT_CHARS = 16 * 1024 * 1024;

export const HistoryTurnSchema = z
  .object({
    role: z.enum(['user', 'assistant', 'system']),
    content: z.string().max(MAX_CONTENT_CHARS, `must be at most ${MAX_CONTENT_CHARS} characters`),
  })
  .strict();
export type HistoryTurn = z.infer<typeof HistoryTurnSchema>;

/** Business keys become workflow ids, so they are restricted to characters that read well in a URL and the Web UI. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const idString = z
  .string()
  .regex(ID_PATTERN, 'must be 1-128 characters of letters, digits, ".", "_", ":" or "-", starting with a letter or digit');

/**
 * The tenant a request is billed to and logged under; one definition for requests, logs, tenants file and gateway.
 * No "-": it is the separator in `route-<tenant>-<requestId>`, so a tenant id with one could collide with another's.
 */
export const TENANT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:]{0,63}$/;
export const TenantIdSchema = z
  .string()
  .regex(TENANT_ID_PATTERN, 'must be 1-64 characters of letters, digits, ".", "_" or ":" (no "-"), starting with a letter or digit')
  .default('default');

/** Where a claim-checked request's prompt and history are: the content store's key, and their size. */
export const ContentRefSchema = z
  .object({
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 hex digest'),
    chars: z.number().int().positive(),
  })
  .strict();
export type ContentRef = z.infer<typeof ContentRefSchema>;

/** Characters of prompt and history together: what the size limits count. */
export function contentChars(request: { prompt: string; history?: readonly { content: string }[] }): number {
  return request.prompt.length + (request.history ?? []).reduce((n, t) => n + t.content.length, 0);
}

export const RouteRequestSchema = z
  .object({
    requestId: idString,
    // Empty only when claim-checked (checked below, with contentRef); whitespace alone is never a prompt.
    prompt: z
      .string()
      .max(MAX_CONTENT_CHARS, `must be at most ${MAX_CONTENT_CHARS} characters`)
      .refine((s) => s === '' || s.trim().length > 0, { message: 'must not be empty or only whitespace' }),
    history: z.array(HistoryTurnSchema).max(200, 'must have at most 200 turns').default([]),
    taskType: TaskTypeSchema.default('other'),
    domain: z.string().trim().toLowerCase().min(1).max(64).default('general'),
    fieldCount: z.number().int('must be a whole number').min(0).max(1000).optional(),
    customerTier: CustomerTierSchema.default('standard'),
    timeSensitivity: TimeSensitivitySchema.default('normal'),
    expectedOutputTokens: z.number().int('must be a whole number').positive('must be greater than 0').max(200_000).optional(),
    outputSchema: OutputSchemaSchema.optional(),
    tenant: TenantIdSchema,
    policyId: idString.default('default'),
    budgetUsd: z.number().positive('must be greater than 0').max(1000).optional(),
    /**
     * The tenant's caps, set by the gateway from the tenants file: each model and judge call reserves its worst case
     * in the tenant's budget first. Absent: nothing is reserved (and the run's history is as before budgets).
     */
    tenantBudget: z
      .object({
        dailyUsd: z.number().nonnegative('must be 0 or more').max(1_000_000).optional(),
        monthlyUsd: z.number().nonnegative('must be 0 or more').max(1_000_000).optional(),
      })
      .strict()
      .optional(),
    /** The most output tokens each call may produce (OpenAI's max_tokens): sent to the provider, and what a reservation prices. */
    maxOutputTokens: z.number().int('must be a whole number').positive('must be greater than 0').max(1_000_000).optional(),
    /**
     * A catalog model id: that model answers, with no routing and no escalation (a one-model ladder); the policy
     * still gates and logs it. The gateway sets it for `model: "<catalog id>"`.
     */
    pinnedModel: z.string().min(1).max(128).optional(),
    /** Set by the client when the prompt and history went to the content store; prompt is then empty. */
    contentRef: ContentRefSchema.optional(),
  })
  .strict()
  .superRefine((request, ctx) => {
    if (request.contentRef) {
      if (request.prompt !== '' || request.history.length > 0) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['contentRef'], message: 'a claim-checked request carries no prompt or history of its own' });
      }
      return;
    }
    if (request.prompt === '') ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['prompt'], message: 'must not be empty or only whitespace' });
    const chars = contentChars(request);
    if (chars > MAX_CONTENT_CHARS) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['prompt'], message: `prompt and history together must be at most ${MAX_CONTENT_CHARS} characters, got ${chars}` });
    }
  });

/** What callers send (defaults not yet applied). */
export type RouteRequestInput = z.input<typeof RouteRequestSchema>;
/** A validated request, defaults applied: the only shape the workflow ever sees. */
export type RouteRequest = z.infer<typeof RouteRequestSchema>;
