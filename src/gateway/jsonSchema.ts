import { OUTPUT_FIELD_TYPES, OUTPUT_SCHEMA_MAX_DEPTH, OutputSchemaSchema, type OutputField, type OutputSchema } from '../domain/request';

/**
 * OpenAI's `response_format.json_schema.schema` as the OutputSchema the quality gate checks: what openai's
 * `zodResponseFormat` sends for an object of string, number, integer, boolean, enum, array and nested-object fields,
 * strict (every field required, additionalProperties: false) or not. A keyword the gate cannot check (format,
 * pattern, minimum, anyOf, $ref, a type list for null, ...) is refused, naming it, rather than accepted and silently
 * not enforced. Keywords that only describe (title, description) are allowed.
 */

export interface SchemaIssue {
  path: (string | number)[];
  message: string;
}

type Path = (string | number)[];

const DESCRIBING = ['title', 'description'];
const TOP_LEVEL = new Set(['type', 'properties', 'required', 'additionalProperties', '$schema', ...DESCRIBING]);
/** The keywords each field type may carry, beyond `type` and the describing ones. */
const FIELD_KEYWORDS: Record<OutputField['type'], readonly string[]> = {
  string: ['enum'],
  number: [],
  // zod 4 writes z.number().int() with the safe-integer bounds, which every JSON integer a parser keeps meets.
  integer: ['minimum', 'maximum'],
  boolean: [],
  array: ['items'],
  object: ['properties', 'required', 'additionalProperties'],
};

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const CHECKS = `types (${OUTPUT_FIELD_TYPES.join(', ')}), string enums, array items, object properties, required and additionalProperties`;
const cannotCheck = (key: string) => `"${key}" cannot be checked by the quality gate (it checks ${CHECKS}); leave it out`;
/** A keyword of another field type (enum on a number): said so; any other keyword the gate cannot check. */
function misplaced(key: string, type: OutputField['type']): string {
  const owner = (Object.keys(FIELD_KEYWORDS) as OutputField['type'][]).find((t) => t !== 'integer' && FIELD_KEYWORDS[t].includes(key));
  return owner ? `"${key}" is only for type "${owner}", not "${type}"` : cannotCheck(key);
}

class Converter {
  readonly issues: SchemaIssue[] = [];

  private issue(path: Path, message: string): void {
    this.issues.push({ path, message });
  }

  /** An object's properties, required and additionalProperties, at the top or nested. */
  objectParts(schema: Record<string, unknown>, path: Path, level: number): Pick<OutputField, 'properties' | 'required' | 'additionalProperties'> {
    const parts: Pick<OutputField, 'properties' | 'required' | 'additionalProperties'> = {};
    if (!isRecord(schema.properties) || Object.keys(schema.properties).length === 0) {
      this.issue([...path, 'properties'], 'must be an object declaring at least one field');
    } else {
      const properties: Record<string, OutputField> = {};
      for (const [name, property] of Object.entries(schema.properties)) {
        const field = this.field(property, [...path, 'properties', name], level);
        if (field) properties[name] = field;
      }
      parts.properties = properties;
    }
    if ('required' in schema) {
      const required = schema.required;
      if (!Array.isArray(required) || !required.every((r): r is string => typeof r === 'string')) this.issue([...path, 'required'], 'must be an array of property names');
      else {
        required.forEach((name, i) => {
          if (isRecord(schema.properties) && !(name in schema.properties)) this.issue([...path, 'required', i], `names "${name}", which is not one of properties`);
        });
        parts.required = required;
      }
    }
    if ('additionalProperties' in schema) {
      if (typeof schema.additionalProperties !== 'boolean') {
        this.issue([...path, 'additionalProperties'], 'must be true or false (a schema for the other fields cannot be checked by the quality gate)');
      } else parts.additionalProperties = schema.additionalProperties;
    }
    return parts;
  }

  /** A field at `level`: the top-level object's fields are at 1, their properties or items at 2, ... */
  field(property: unknown, path: Path, level: number): OutputField | undefined {
    // Checked on the way down: a body of deeply nested schemas must not run the conversion out of stack.
    if (level > OUTPUT_SCHEMA_MAX_DEPTH) {
      this.issue(path, `nests more than ${OUTPUT_SCHEMA_MAX_DEPTH} levels deep (each object's properties and each array's items are a level)`);
      return undefined;
    }
    if (!isRecord(property)) {
      this.issue(path, 'must be an object with a "type"');
      return undefined;
    }
    const type = property.type;
    if (typeof type !== 'string' || !(OUTPUT_FIELD_TYPES as readonly string[]).includes(type)) {
      this.issue([...path, 'type'], `must be one of ${OUTPUT_FIELD_TYPES.map((t) => `"${t}"`).join(', ')}, got ${JSON.stringify(type)}`);
      return undefined;
    }
    const fieldType = type as OutputField['type'];
    const allowed = new Set(['type', ...DESCRIBING, ...FIELD_KEYWORDS[fieldType]]);
    for (const key of Object.keys(property)) if (!allowed.has(key)) this.issue([...path, key], misplaced(key, fieldType));
    const field: OutputField = { type: fieldType };
    switch (fieldType) {
      case 'string':
        if ('enum' in property) {
          const values = property.enum;
          if (!Array.isArray(values) || values.length === 0 || !values.every((v): v is string => typeof v === 'string')) {
            this.issue([...path, 'enum'], 'must be a non-empty array of strings');
          } else field.enum = values;
        }
        break;
      case 'integer':
        for (const [key, bound] of [['minimum', Number.MIN_SAFE_INTEGER], ['maximum', Number.MAX_SAFE_INTEGER]] as const) {
          if (key in property && property[key] !== bound) this.issue([...path, key], `${cannotCheck(key)} (only ${bound}, the safe-integer bound zod writes, is accepted)`);
        }
        break;
      case 'array':
        if ('items' in property) field.items = this.field(property.items, [...path, 'items'], level + 1);
        break;
      case 'object':
        // A bare {"type": "object"} is any object; with properties it is checked field by field.
        if ('properties' in property || 'required' in property || 'additionalProperties' in property) Object.assign(field, this.objectParts(property, path, level + 1));
        break;
    }
    return field;
  }
}

export function toOutputSchema(schema: unknown): { schema: OutputSchema } | { issues: SchemaIssue[] } {
  if (!isRecord(schema)) return { issues: [{ path: [], message: 'must be a JSON Schema object' }] };
  const converter = new Converter();
  for (const key of Object.keys(schema)) if (!TOP_LEVEL.has(key)) converter.issues.push({ path: [key], message: cannotCheck(key) });
  if (schema.type !== 'object') converter.issues.push({ path: ['type'], message: `must be "object" (the answer is a JSON object), got ${JSON.stringify(schema.type)}` });
  const parts = converter.objectParts(schema, [], 1);
  if (converter.issues.length > 0) return { issues: converter.issues };
  const parsed = OutputSchemaSchema.safeParse({ type: 'object', ...parts });
  if (!parsed.success) return { issues: parsed.error.issues.map((i) => ({ path: i.path, message: i.message })) };
  return { schema: parsed.data };
}
