import { z } from 'zod';
import { CustomerTierSchema, TaskTypeSchema, TimeSensitivitySchema, type HistoryTurn, type OutputSchema } from '../domain/request';
import { toOutputSchema } from './jsonSchema';

/**
 * The body of `POST /v1/chat/completions` as OpenAI defines it, the parts the router uses. Fields it does not know
 * are dropped, as OpenAI's own server ignores them; a known field of the wrong type or value is refused, naming it.
 */

/** A message's content: a string, or text parts (`[{type: "text", text}]`), joined. Other parts are refused. */
const ContentSchema = z.unknown().transform((content, ctx): string => {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be a string or an array of text parts, got ${content === null ? 'null' : typeof content}` });
    return z.NEVER;
  }
  const texts: string[] = [];
  content.forEach((part: unknown, i) => {
    const p = part as { type?: unknown; text?: unknown } | null;
    if (typeof p !== 'object' || p === null || p.type !== 'text') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i, 'type'], message: `must be "text" (the router routes text only), got ${JSON.stringify(p?.type ?? p)}` });
    } else if (typeof p.text !== 'string') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i, 'text'], message: `must be a string, got ${p.text === null ? 'null' : typeof p.text}` });
    } else texts.push(p.text);
  });
  return texts.join('\n');
});

const MessageSchema = z.object({
  // "developer" is OpenAI's newer name for the system turn; tool and function turns need tools, which the router has not.
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: ContentSchema,
  name: z.string().optional(),
});

const positiveTokens = z.number().int('must be a whole number').positive('must be greater than 0').max(200_000, 'must be at most 200000');

/** OpenAI's metadata is string → string; fieldCount may come as "3" or 3. */
const MetadataSchema = z.object({
  taskType: TaskTypeSchema.optional(),
  domain: z.string().trim().min(1, 'must not be empty').max(64, 'must be at most 64 characters').optional(),
  fieldCount: z
    .preprocess((v) => (typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : v), z.number().int('must be a whole number').min(0, 'must be at least 0').max(1000, 'must be at most 1000'))
    .optional(),
  customerTier: CustomerTierSchema.optional(),
  timeSensitivity: TimeSensitivitySchema.optional(),
});

const ResponseFormatSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z.object({
      name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "_" or "-"'),
      description: z.string().optional(),
      schema: z.unknown(),
      strict: z.boolean().nullish(),
    }),
  }),
]);

export const ChatCompletionBodySchema = z
  .object({
    model: z.string().min(1, 'must name "router", "router/<policy id>" or a catalog model id'),
    messages: z.array(MessageSchema).min(1, 'must have at least one message').max(201, 'must have at most 201 messages (200 turns of history and the prompt)'),
    max_tokens: positiveTokens.nullish(),
    max_completion_tokens: positiveTokens.nullish(),
    // Checked as OpenAI does; the router's providers keep their own sampling settings.
    temperature: z.number().min(0, 'must be from 0 to 2').max(2, 'must be from 0 to 2').nullish(),
    response_format: ResponseFormatSchema.nullish(),
    user: z.string().max(256, 'must be at most 256 characters').optional(),
    metadata: MetadataSchema.nullish(),
    stream: z.boolean().nullish(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
    n: z.literal(1, { errorMap: () => ({ message: 'must be 1: the router returns one answer' }) }).nullish(),
    tools: z.array(z.unknown()).max(0, 'are not supported: the router answers with text').nullish(),
  })
  .superRefine((body, ctx) => {
    // zod runs this even when a field failed above; checking the whole body only makes sense on good parts.
    if (body.messages.some((m) => typeof m.content !== 'string')) return;
    const last = body.messages.length - 1;
    const prompt = body.messages[last];
    if (prompt && prompt.role !== 'user') ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['messages', last, 'role'], message: `the last message must be the user's turn (the prompt), got "${prompt.role}"` });
    else if (prompt && prompt.content.trim() === '') ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['messages', last, 'content'], message: 'must not be empty or only whitespace (it is the prompt)' });
    if (body.stream_options && !body.stream) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['stream_options'], message: 'is only allowed with stream: true' });
    const format = body.response_format;
    if (format?.type === 'json_object') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['response_format', 'type'], message: '"json_object" is not supported: send "json_schema" with a schema, which the quality gate checks' });
    }
    if (format?.type === 'json_schema') {
      const converted = toOutputSchema(format.json_schema.schema);
      if ('issues' in converted) for (const issue of converted.issues) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['response_format', 'json_schema', 'schema', ...issue.path], message: issue.message });
    }
  });
export type ChatCompletionBody = z.infer<typeof ChatCompletionBodySchema>;

/** What the body says about the request, in the router's terms (which model and the tenant come from elsewhere). */
export interface ChatRequestParts {
  prompt: string;
  history: HistoryTurn[];
  outputSchema?: OutputSchema;
  maxOutputTokens?: number;
  metadata: Partial<Pick<z.infer<typeof MetadataSchema>, 'taskType' | 'domain' | 'fieldCount' | 'customerTier' | 'timeSensitivity'>>;
}

/** The last message is the prompt; the turns before it are the history ("developer" counts as "system"). */
export function chatRequestParts(body: ChatCompletionBody): ChatRequestParts {
  const turns = body.messages.map((m) => ({ role: m.role === 'developer' ? ('system' as const) : m.role, content: m.content }));
  const prompt = turns[turns.length - 1]!.content;
  const maxOutputTokens = body.max_completion_tokens ?? body.max_tokens ?? undefined;
  const format = body.response_format;
  const converted = format?.type === 'json_schema' ? toOutputSchema(format.json_schema.schema) : undefined;
  const metadata = Object.fromEntries(Object.entries(body.metadata ?? {}).filter(([, v]) => v !== undefined));
  return {
    prompt,
    history: turns.slice(0, -1),
    ...(converted && 'schema' in converted ? { outputSchema: converted.schema } : {}),
    ...(maxOutputTokens !== undefined ? { maxOutputTokens } : {}),
    metadata,
  };
}

/** A zod path as OpenAI writes `param`: `messages[2].content`, `response_format.json_schema.schema.type`. */
export function paramOf(path: readonly (string | number)[]): string | null {
  if (path.length === 0) return null;
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}
