import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OutputSchemaSchema, type OutputSchema, type RouteRequest } from '../src/domain/request';
import type { ModelResult } from '../src/domain/results';
import { explainIssues } from '../src/domain/validation';
import { OutputSchemaValidator } from '../src/evaluators/validators';
import { toOutputSchema } from '../src/gateway/jsonSchema';
import { SimulatedProvider } from '../src/providers/simulated';

/**
 * The richer output schema (string enums, array items, nested objects, additionalProperties: false): what the
 * gateway makes of a JSON Schema, what the domain accepts, what the gate enforces, and that the simulated provider's
 * answers keep to a strict schema.
 */

const strict: OutputSchema = {
  type: 'object',
  properties: {
    topic: { type: 'string', enum: ['billing', 'delivery'] },
    tags: { type: 'array', items: { type: 'string' } },
    address: { type: 'object', properties: { city: { type: 'string' }, zip: { type: 'string' } }, required: ['city'], additionalProperties: false },
  },
  required: ['topic', 'tags', 'address'],
  additionalProperties: false,
};

const validator = new OutputSchemaValidator();
const gate = (text: string, outputSchema: OutputSchema = strict) =>
  validator.evaluate({ requestId: 'r', prompt: 'p', outputSchema } as RouteRequest, { text, model: 'm' } as ModelResult);

describe('output schema: the gate enforces what it is given', () => {
  it('passes an answer with exactly the declared fields, an optional nested one left out or null', async () => {
    assert.deepEqual(await gate('{"topic":"billing","tags":["a"],"address":{"city":"Porto"}}'), { score: 1, reasons: [], costUsd: 0 });
    assert.equal((await gate('{"topic":"delivery","tags":[],"address":{"city":"Porto","zip":null}}')).score, 1);
  });

  it('additionalProperties: false refuses an extra field, at the top and nested, naming it', async () => {
    const e = await gate('{"topic":"billing","tags":[],"address":{"city":"Porto","street":"Rua A"},"_simulated":"x"}');
    assert.equal(e.score, 0);
    assert.deepEqual(e.reasons.sort(), ['field "_simulated" is not in the schema (additionalProperties: false)', 'field "address.street" is not in the schema (additionalProperties: false)']);
    // Without it, extra fields are allowed as before.
    const loose = { ...strict, additionalProperties: undefined, properties: { ...strict.properties, address: { type: 'object' as const, properties: { city: { type: 'string' as const } } } } };
    assert.equal((await gate('{"topic":"billing","tags":[],"address":{"city":"Porto","street":"Rua A"},"extra":1}', loose)).score, 1);
  });

  it('names a value outside the enum, a mistyped array item, a missing nested field', async () => {
    const e = await gate('{"topic":"refund","tags":["a",2],"address":{}}');
    assert.equal(e.score, 0);
    assert.deepEqual(e.reasons.sort(), ['field "address.city" is missing', 'field "tags[1]" must be string, got integer', 'field "topic" must be one of "billing", "delivery", got "refund"']);
  });
});

describe('output schema: the domain refuses what does not fit', () => {
  const problems = (schema: unknown) => {
    const parsed = OutputSchemaSchema.safeParse(schema);
    return parsed.success ? [] : explainIssues(parsed.error.issues).map((i) => `${i.path.join(".")}: ${i.message}`);
  };
  it('keeps the old flat schemas valid', () => {
    assert.deepEqual(problems({ type: 'object', properties: { a: { type: 'string' }, b: { type: 'object' } }, required: ['a'] }), []);
  });
  it('a keyword on the wrong type, a nested required naming no property, an unknown keyword', () => {
    assert.deepEqual(problems({ type: 'object', properties: { n: { type: 'number', enum: ['1'] } } }), ['properties.n.enum: is only for type "string", not "number"']);
    assert.deepEqual(problems({ type: 'object', properties: { o: { type: 'object', properties: { a: { type: 'string' } }, required: ['b'] } } }), ['properties.o.required.0: names "b", which is not one of properties']);
    assert.equal(problems({ type: 'object', properties: { s: { type: 'string', format: 'email' } } }).length, 1);
  });
  it('at most 10 levels: the top-level fields are level 1, each properties or items one more', () => {
    const nested = (levels: number) => {
      let field: Record<string, unknown> = { type: 'string' };
      for (let i = 1; i < levels; i++) field = i % 2 ? { type: 'array', items: field } : { type: 'object', properties: { f: field } };
      return { type: 'object', properties: { f: field } };
    };
    assert.deepEqual(problems(nested(10)), []);
    assert.deepEqual(problems(nested(11)), ["properties: nests 11 levels deep (each object's properties and each array's items are a level); at most 10"]);
  });
});

describe('output schema: from a JSON Schema (the gateway)', () => {
  it('maps a strict nested schema, and refuses an object-valued additionalProperties naming it', () => {
    const converted = toOutputSchema({
      type: 'object',
      properties: { topic: strict.properties.topic, tags: strict.properties.tags, address: { ...strict.properties.address, description: 'where it goes' } },
      required: ['topic', 'tags', 'address'],
      additionalProperties: false,
      $schema: 'http://json-schema.org/draft-07/schema#',
    });
    assert.deepEqual(converted, { schema: strict });
    assert.deepEqual(toOutputSchema({ type: 'object', properties: { a: { type: 'string' } }, additionalProperties: { type: 'string' } }), {
      issues: [{ path: ['additionalProperties'], message: 'must be true or false (a schema for the other fields cannot be checked by the quality gate)' }],
    });
  });

  it('a schema nested far too deep is refused at the 11th level, not by running out of stack', () => {
    let field: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 100_000; i++) field = { type: 'array', items: field };
    const refused = toOutputSchema({ type: 'object', properties: { f: field } });
    assert.ok('issues' in refused);
    assert.deepEqual(refused.issues.map((i) => i.path.join('.')), [`properties.f${'.items'.repeat(10)}`]);
  });

  it("accepts zod 4's safe-integer bounds on an integer and no other bound", () => {
    assert.ok('schema' in toOutputSchema({ type: 'object', properties: { n: { type: 'integer', minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER } } }));
    const refused = toOutputSchema({ type: 'object', properties: { n: { type: 'integer', maximum: 10 } } });
    assert.ok('issues' in refused && refused.issues[0]!.path.join('.') === 'properties.n.maximum');
  });
});

describe('output schema: simulated answers keep to a strict schema', () => {
  it('a passing answer has exactly the declared fields and values of their kind; a failing one misses the first required', async () => {
    const provider = new SimulatedProvider({ latencyScale: 0 });
    const seen = { pass: 0, fail: 0 };
    for (let i = 0; i < 40; i++) {
      const requestId = `strict-${i}`;
      const c = await provider.complete({ requestId, model: { id: 'gpt-4o-mini', provider: 'simulated', inputUsdPer1M: 1, outputUsdPer1M: 2 }, prompt: 'Extract.', history: [], taskType: 'extraction', domain: 'general', attempt: 1, outputSchema: strict } as never);
      const verdict = await gate(c.text);
      if (c.recordedQuality! >= 0.95) {
        seen.pass++;
        assert.deepEqual(verdict.reasons, [], `${requestId}: ${c.text}`);
        const answer = JSON.parse(c.text) as Record<string, unknown>;
        assert.deepEqual(Object.keys(answer).sort(), ['address', 'tags', 'topic']);
        assert.equal(answer.topic, 'billing', "an enum's first value");
        assert.equal(c.origin, 'simulated', 'the label lives in the origin, not in an extra field');
      } else {
        seen.fail++;
        assert.deepEqual(verdict.reasons, ['field "topic" is missing'], `${requestId}: ${c.text}`);
      }
    }
    assert.ok(seen.pass > 0 && seen.fail > 0, JSON.stringify(seen));
  });
});
