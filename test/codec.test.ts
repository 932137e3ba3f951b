import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { defaultPayloadConverter, METADATA_ENCODING_KEY, type Payload } from '@temporalio/common';
import { codecKeysFromEnv, dataConverterFromEnv, EncryptionCodec, ENCRYPTED_ENCODING, METADATA_KEY_ID } from '../src/codec';

const newKey = () => randomBytes(32).toString('base64');
const codecFor = (keys: string) => new EncryptionCodec(codecKeysFromEnv({ MODEL_ROUTER_CODEC_KEYS: keys })!);
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');
const PROMPT = 'Extract the postcode from: 221B Baker Street, London NW1 6XE';

describe('EncryptionCodec', () => {
  it('round-trips a payload, and the encoded bytes hold neither the value nor its encoding', async () => {
    const codec = codecFor(`k1:${newKey()}`);
    const plain = defaultPayloadConverter.toPayload({ prompt: PROMPT });
    const [encoded] = await codec.encode([plain]);
    assert.equal(text(encoded!.metadata![METADATA_ENCODING_KEY]), ENCRYPTED_ENCODING);
    assert.equal(text(encoded!.metadata![METADATA_KEY_ID]), 'k1');
    assert.ok(!Buffer.from(encoded!.data!).includes('postcode'), 'the prompt is not in the ciphertext');
    assert.ok(!Buffer.from(encoded!.data!).includes('json/plain'), 'the plain encoding is hidden too');
    const [decoded] = await codec.decode([encoded!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(decoded!), { prompt: PROMPT });
  });

  it('uses a fresh IV for every payload', async () => {
    const codec = codecFor(`k1:${newKey()}`);
    const plain = defaultPayloadConverter.toPayload(PROMPT);
    const [a, b] = await codec.encode([plain, plain]);
    assert.notDeepEqual(Buffer.from(a!.data!), Buffer.from(b!.data!));
  });

  it('decodes payloads written under an old key after the current key rotates, and encrypts with the new one', async () => {
    const oldKey = newKey();
    const [old] = await codecFor(`2024:${oldKey}`).encode([defaultPayloadConverter.toPayload(PROMPT)]);
    const rotated = codecFor(`2025:${newKey()},2024:${oldKey}`);
    const [decoded] = await rotated.decode([old!]);
    assert.equal(defaultPayloadConverter.fromPayload(decoded!), PROMPT);
    const [fresh] = await rotated.encode([defaultPayloadConverter.toPayload(PROMPT)]);
    assert.equal(text(fresh!.metadata![METADATA_KEY_ID]), '2025');
  });

  it('names the key id when a payload was encrypted under a key it does not have', async () => {
    const [encoded] = await codecFor(`retired:${newKey()}`).encode([defaultPayloadConverter.toPayload(PROMPT)]);
    await assert.rejects(codecFor(`k2:${newKey()}`).decode([encoded!]), /key "retired", which is not configured \(known: k2\)/);
  });

  it('rejects altered ciphertext (GCM authentication)', async () => {
    const codec = codecFor(`k1:${newKey()}`);
    const [encoded] = await codec.encode([defaultPayloadConverter.toPayload(PROMPT)]);
    const tampered = Buffer.from(encoded!.data!);
    tampered[20]! ^= 0x01;
    await assert.rejects(codec.decode([{ ...encoded!, data: tampered }]), /key "k1" failed authentication/);
  });

  it('passes plain payloads (written before encryption was on) through unchanged', async () => {
    const plain: Payload = defaultPayloadConverter.toPayload(PROMPT);
    const [decoded] = await codecFor(`k1:${newKey()}`).decode([plain]);
    assert.equal(decoded, plain);
  });
});

describe('codec keys from the environment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'router-codec-keys-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const keyFile = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  it('configures no codec when no key is set (plain payloads)', () => {
    assert.equal(dataConverterFromEnv({}), undefined);
  });

  it('takes the first MODEL_ROUTER_CODEC_KEYS entry as the current key', () => {
    const keys = codecKeysFromEnv({ MODEL_ROUTER_CODEC_KEYS: `new:${newKey()}, old:${newKey()}` })!;
    assert.equal(keys.currentKeyId, 'new');
    assert.deepEqual([...keys.keys.keys()], ['new', 'old']);
  });

  it('reads a key file with its current key id', () => {
    const path = keyFile('keys.json', JSON.stringify({ current: 'b', keys: { a: newKey(), b: newKey() } }));
    const keys = codecKeysFromEnv({ MODEL_ROUTER_CODEC_KEY_FILE: path })!;
    assert.equal(keys.currentKeyId, 'b');
    assert.equal(keys.keys.get('a')!.length, 32);
  });

  const short = randomBytes(16).toString('base64');
  const bad: [string, NodeJS.ProcessEnv, RegExp][] = [
    ['a 16-byte key', { MODEL_ROUTER_CODEC_KEYS: `k1:${short}` }, /Invalid MODEL_ROUTER_CODEC_KEYS: k1: must decode to 32 bytes \(AES-256\), got 16$/],
    ['a key that is not base64', { MODEL_ROUTER_CODEC_KEYS: `k1:not*base64!` }, /MODEL_ROUTER_CODEC_KEYS: k1: must be base64 text/],
    ['an entry without a key id', { MODEL_ROUTER_CODEC_KEYS: `k1:${newKey()},${newKey()}` }, /MODEL_ROUTER_CODEC_KEYS: entry 2: must be KEYID:BASE64KEY/],
    ['a repeated key id', { MODEL_ROUTER_CODEC_KEYS: `k1:${newKey()},k1:${newKey()}` }, /MODEL_ROUTER_CODEC_KEYS: k1: appears twice/],
    ['both variables', { MODEL_ROUTER_CODEC_KEYS: `k1:${newKey()}`, MODEL_ROUTER_CODEC_KEY_FILE: '/x.json' }, /MODEL_ROUTER_CODEC_KEYS: must not be set together with MODEL_ROUTER_CODEC_KEY_FILE/],
  ];
  for (const [what, env, message] of bad) {
    it(`rejects ${what}, naming the variable and the key`, () => assert.throws(() => dataConverterFromEnv(env), message));
  }

  it('rejects key files that break a rule, naming the file, the field and the rule', () => {
    const cases: [string, RegExp][] = [
      [JSON.stringify({ current: 'a', keys: { a: short } }), /keys\.json: a: must decode to 32 bytes/],
      [JSON.stringify({ current: 'gone', keys: { a: newKey() } }), /keys\.json: gone: is the current key id but has no key/],
      [JSON.stringify({ keys: { a: newKey() } }), /keys\.json: current: is required/],
      ['{"current": "a",', /keys\.json: \(root\): not valid JSON/],
    ];
    for (const [content, message] of cases) {
      assert.throws(() => codecKeysFromEnv({ MODEL_ROUTER_CODEC_KEY_FILE: keyFile('keys.json', content) }), message);
    }
    assert.throws(() => codecKeysFromEnv({ MODEL_ROUTER_CODEC_KEY_FILE: join(dir, 'missing.json') }), /MODEL_ROUTER_CODEC_KEY_FILE .*missing\.json: \(file\): cannot be read/);
  });
});
