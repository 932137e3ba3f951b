import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactSecrets } from '../src/domain/redact';

describe('redactSecrets', () => {
  it('replaces known secret values, however they are framed', () => {
    assert.equal(redactSecrets('key opaque-123 refused (opaque-1234)', ['opaque-123', 'opaque-1234']), 'key [redacted] refused ([redacted])');
  });

  it('ignores known secrets too short to tell from ordinary words', () => {
    assert.equal(redactSecrets('password passed', ['pas']), 'password passed');
  });

  it('redacts Authorization values in header, query and JSON form', () => {
    assert.equal(redactSecrets('Header was "Authorization: Bearer abc.def-123" end'), 'Header was "Authorization: [redacted]" end');
    assert.equal(redactSecrets('authorization=Basic cm91dGVyOnB3 rejected'), 'authorization=[redacted] rejected');
    assert.equal(redactSecrets('{"Authorization":"token-x"}'), '{"Authorization":"[redacted]"}');
  });

  it('redacts bearer tokens and sk- keys on their own, and leaves look-alikes', () => {
    assert.equal(redactSecrets('got Bearer eyJhbGciOi.x-y'), 'got Bearer [redacted]');
    assert.equal(redactSecrets('key sk-proj-abcdefgh12 and sk-ant-api03-XYZ_123456'), 'key [redacted] and [redacted]');
    assert.equal(redactSecrets('task-abcdefghijk, Basic plan, sk-short'), 'task-abcdefghijk, Basic plan, sk-short');
  });

  it('redacts user:password@ in URLs and keeps the rest of the URL', () => {
    assert.equal(redactSecrets('request to https://router:p%40ss@gateway.example/v1 failed'), 'request to https://[redacted]@gateway.example/v1 failed');
    assert.equal(redactSecrets('see http://gateway.example/users/a@b'), 'see http://gateway.example/users/a@b');
  });
});
