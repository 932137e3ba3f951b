import type { z } from 'zod';

/** Raised for input that breaks a contract; the message names every offending field and the rule it broke. */
export class ValidationError extends Error {
  constructor(
    readonly subject: string,
    readonly issues: { path: string; message: string }[],
  ) {
    super(`Invalid ${subject}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
    this.name = 'ValidationError';
  }
}

function describeIssue(issue: z.ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.received === 'undefined') return 'is required';
      // zod reports a failed .int() as invalid_type integer/float; keep the rule's own words ("must be a whole number").
      if (issue.expected === 'integer' && issue.received === 'float') return issue.message.startsWith('Expected ') ? 'must be a whole number' : issue.message;
      return `must be ${issue.expected}, got ${issue.received}`;
    case 'unrecognized_keys':
      return `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'invalid_enum_value':
      return `must be one of ${issue.options.map((o) => `"${String(o)}"`).join(', ')}, got "${String(issue.received)}"`;
    default:
      return issue.message;
  }
}

/**
 * zod reports a value that matches no member of a union as a bare "Invalid input". When exactly one member has the
 * value's shape (no unknown keys), the value meant that member: its own issues say what is wrong.
 */
function explainUnion(issue: z.ZodIssue): z.ZodIssue[] {
  if (issue.code !== 'invalid_union') return [issue];
  const shaped = issue.unionErrors.filter((e) => !e.issues.some((i) => i.code === 'unrecognized_keys'));
  return shaped.length === 1 ? shaped[0]!.issues.flatMap(explainUnion) : [issue];
}

/** zod's issues in the project's words, each with its raw path (for callers that format paths their own way). */
export function explainIssues(issues: readonly z.ZodIssue[]): { path: (string | number)[]; message: string }[] {
  return issues.flatMap(explainUnion).map((issue) => ({ path: issue.path, message: describeIssue(issue) }));
}

/** Parses `input` with `schema`, or throws a ValidationError that names each field and rule. */
export function parseOrThrow<S extends z.ZodTypeAny>(schema: S, input: unknown, subject: string): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new ValidationError(
    subject,
    explainIssues(parsed.error.issues).map(({ path, message }) => ({ path: path.length > 0 ? path.join('.') : '(root)', message })),
  );
}

/** JSON text (a file's), or a ValidationError saying it is not JSON, with the subject (e.g. the file path). */
export function parseJsonOrThrow(text: string, subject: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ValidationError(subject, [{ path: '(root)', message: `not valid JSON (${err instanceof Error ? err.message : String(err)})` }]);
  }
}
