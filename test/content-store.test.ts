import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ContentMissingError, FileContentStore } from '../src/claimCheck/contentStore';
import { checkIn, checkOut } from '../src/claimCheck/request';
import { payloadCodecFromEnv } from '../src/codec';
import { INLINE_CONTENT_LIMIT, RouteRequestSchema } from '../src/domain/request';

describe('content store (claim-check)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'router-content-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const codec = payloadCodecFromEnv({ MODEL_ROUTER_CODEC_KEYS: `k1:${randomBytes(32).toString('base64')}` });

  it('checks a large request in and out: the request carries only the reference, the file only ciphertext', async () => {
    const store = new FileContentStore(join(dir, 'encrypted'), codec);
    const secret = 'customer address: 12 Quay Street';
    const request = RouteRequestSchema.parse({ requestId: 'big', prompt: `${secret} ${'x'.repeat(INLINE_CONTENT_LIMIT)}`, history: [{ role: 'user', content: 'earlier turn' }] });
    const checkedIn = await checkIn(request, store);
    assert.equal(checkedIn.prompt, '');
    assert.deepEqual(checkedIn.history, []);
    assert.equal(checkedIn.contentRef?.chars, request.prompt.length + 'earlier turn'.length);
    assert.doesNotThrow(() => RouteRequestSchema.parse(checkedIn), 'a checked-in request is still a valid request');
    const [file] = readdirSync(join(dir, 'encrypted'));
    assert.equal(file, checkedIn.contentRef?.sha256);
    assert.ok(!readFileSync(join(dir, 'encrypted', file!), 'utf8').includes('Quay Street'), 'encrypted at rest');
    assert.deepEqual(await checkOut(checkedIn, store), request);
  });

  it('leaves small requests inline, and refuses a reference it cannot resolve or a file that changed', async () => {
    const store = new FileContentStore(join(dir, 'plain'));
    const small = RouteRequestSchema.parse({ requestId: 'small', prompt: 'hello' });
    assert.equal(await checkIn(small, store), small);
    await assert.rejects(store.get('0'.repeat(64)), ContentMissingError);
    const sha = await store.put('original text');
    const path = join(dir, 'plain', sha);
    const body = JSON.parse(readFileSync(path, 'utf8')) as { data: string };
    writeFileSync(path, JSON.stringify({ ...body, data: Buffer.from('tampered text').toString('base64') }));
    await assert.rejects(store.get(sha), /does not match its hash/);
  });
});
