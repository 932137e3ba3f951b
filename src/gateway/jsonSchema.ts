import { OUTPUT_FIELD_TYPES, OutputSchemaSchema, type OutputSchema } from '../domain/request';

/**
 * OpenAI's `response_format.json_schema.schema` as the OutputSchema the quality gate checks. The gate checks an
 * object's top-level fields and their JSON types; a keyword it cannot check (enum, format, nested properties, items,
 * anyOf, additionalProperties: false, ...) is refused, naming it, rather than accepted and silently not enforced.
 * Keywords that only describe (title, description) are allowed.
 */

export interface SchemaIssue {
  path: (string | number)[];
  message: string;
}

const TOP_LEVEL = new Set(['type', 'properties', 'required', 'additionalProperties', 'title', 'description', '$schema']);
const PROPERTY = new Set(['type', 'title', 'description']);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const cannotCheck = (key: string) => `"${key}" cannot be checked by the quality gate (it checks top-level fields and their types: ${OUTPUT_FIELD_TYPES.join(', ')}); leave it out`;

export function toOutputSchema(schema: unknown): { schema: OutputSchema } | { issues: SchemaIssue[] } {
  if (!isRecord(schema)) return { issues: [{ path: [], message: 'must be a JSON Schema object' }] };
  const issues: SchemaIssue[] = [];
  for (const key of Object.keys(schema)) if (!TOP_LEVEL.has(key)) issues.push({ path: [key], message: cannotCheck(key) });
  if (schema.type !== 'object') issues.push({ path: ['type'], message: `must be "object" (the answer is a JSON object), got ${JSON.stringify(schema.type)}` });
  if ('additionalProperties' in schema && schema.additionalProperties !== true) {
    issues.push({ path: ['additionalProperties'], message: 'only true can be checked: the gate allows fields beyond properties; leave it out' });
  }
  const properties: OutputSchema['properties'] = {};
  if (!isRecord(schema.properties) || Object.keys(schema.properties).length === 0) {
    issues.push({ path: ['properties'], message: 'must be an object declaring at least one field' });
  } else {
    for (const [name, property] of Object.entries(schema.properties)) {
      if (!isRecord(property)) {
        issues.push({ path: ['properties', name], message: 'must be an object with a "type"' });
        continue;
      }
      for (const key of Object.keys(property)) if (!PROPERTY.has(key)) issues.push({ path: ['properties', name, key], message: cannotCheck(key) });
      const type = property.type;
      if (typeof type !== 'string' || !(OUTPUT_FIELD_TYPES as readonly string[]).includes(type)) {
        issues.push({ path: ['properties', name, 'type'], message: `must be one of ${OUTPUT_FIELD_TYPES.map((t) => `"${t}"`).join(', ')}, got ${JSON.stringify(type)}` });
      } else {
        properties[name] = { type: type as OutputSchema['properties'][string]['type'] };
      }
    }
  }
  const required = schema.required ?? [];
  if (!Array.isArray(required) || !required.every((r): r is string => typeof r === 'string')) {
    issues.push({ path: ['required'], message: 'must be an array of property names' });
  } else {
    required.forEach((name, i) => {
      if (isRecord(schema.properties) && !(name in schema.properties)) issues.push({ path: ['required', i], message: `names "${name}", which is not one of properties` });
    });
  }
  if (issues.length > 0) return { issues };
  const parsed = OutputSchemaSchema.safeParse({ type: 'object', properties, required });
  if (!parsed.success) return { issues: parsed.error.issues.map((i) => ({ path: i.path, message: i.message })) };
  return { schema: parsed.data };
}
