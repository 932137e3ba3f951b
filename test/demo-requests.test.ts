import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEMO_REQUESTS } from '../src/demo/requests';
import { RouteRequestSchema, type RouteRequest } from '../src/domain/request';

describe('demo request batch', () => {
  it('parses every request with RouteRequestSchema', () => {
    for (const input of DEMO_REQUESTS) {
      const result = RouteRequestSchema.safeParse(input);
      assert.ok(result.success, `${String(input.requestId)} is invalid: ${result.success ? '' : result.error.message}`);
    }
  });

  // Invalid requests are reported by the test above; the checks below look at the valid ones.
  const parsed: RouteRequest[] = DEMO_REQUESTS.flatMap((input) => {
    const result = RouteRequestSchema.safeParse(input);
    return result.success ? [result.data] : [];
  });

  it('has 45-60 requests with unique demo-NNN ids', () => {
    assert.ok(parsed.length >= 45 && parsed.length <= 60, `${parsed.length} requests`);
    const ids = parsed.map((r) => r.requestId);
    assert.equal(new Set(ids).size, ids.length, 'ids must be unique');
    for (const id of ids) assert.match(id, /^demo-\d{3}$/);
  });

  it('covers every main task type, medical and legal domains, and multi-turn conversations', () => {
    const taskTypes = new Set(parsed.map((r) => r.taskType));
    for (const t of ['classification', 'extraction', 'reasoning', 'generation', 'summarization'] as const) assert.ok(taskTypes.has(t), `no ${t} request`);
    const domains = new Set(parsed.map((r) => r.domain));
    assert.ok(domains.has('medical') && domains.has('legal'));
    assert.ok(parsed.filter((r) => r.history.length > 0).length >= 2, 'a few requests carry history');
  });

  it('varies customer tier and time sensitivity', () => {
    assert.equal(new Set(parsed.map((r) => r.customerTier)).size, 4);
    assert.equal(new Set(parsed.map((r) => r.timeSensitivity)).size, 3);
  });

  it('gives every extraction an output schema whose size is its fieldCount, some with 5-8 fields', () => {
    const extractions = parsed.filter((r) => r.taskType === 'extraction');
    for (const r of extractions) {
      assert.ok(r.outputSchema, `${r.requestId} has no output schema`);
      assert.equal(r.fieldCount, Object.keys(r.outputSchema.properties).length, r.requestId);
    }
    const wide = extractions.filter((r) => (r.fieldCount ?? 0) >= 5 && (r.fieldCount ?? 0) <= 8);
    assert.ok(wide.length >= 2 && wide.length < extractions.length / 2, `${wide.length} wide extractions`);
  });
});
