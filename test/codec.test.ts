import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@temporalio/client';
import { defaultPayloadConverter, METADATA_ENCODING_KEY, type DataConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { codecKeysFromEnv, dataConverterFromEnv, EncryptionCodec, ENCRYPTED_ENCODING, METADATA_KEY_ID } from '../src/codec';
import { startCodecServer, type CodecServer } from '../src/codec/codecServer';
import type { DecisionLog } from '../src/domain/results';
import { freePort, startLocalServer, type LocalServer } from '../src/servers/localServer';
import { createRouterWorker } from '../src/worker/createWorker';
import { installQuietRuntime } from '../src/worker/runtime';
import { RoutingToEndClient } from './helpers/routerClient';
import { launchBrowser, type TestBrowser } from './helpers/browser';
import { judgedModels, loopbackDeps } from './helpers/loopbackRouter';
import { startOpenAIServer, type OpenAIServer } from './helpers/openaiServer';
import { workflowBundle } from './helpers/temporal';

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
    assert.deepEqual(dataConverterFromEnv({}).payloadCodecs ?? [], []);
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

/** Every payload in a history, by where it sits, except search attributes (indexed, so never encrypted) and patch markers. */
function historyPayloads(history: temporal.api.history.v1.IHistory): { path: string; payload: Payload }[] {
  const found: { path: string; payload: Payload }[] = [];
  const walk = (node: unknown, path: string): void => {
    if (!node || typeof node !== 'object' || node instanceof Uint8Array) return;
    const record = node as Record<string, unknown>;
    if (record.metadata && typeof record.metadata === 'object' && METADATA_ENCODING_KEY in record.metadata) {
      found.push({ path, payload: record as Payload });
      return;
    }
    // Core's own patch marker (patched()) holds only the patch's name, and the SDK writes it unencoded.
    for (const [key, value] of Object.entries(record)) if (key !== 'searchAttributes' && key !== 'patch-data') walk(value, `${path}.${key}`);
  };
  (history.events ?? []).forEach((event, i) => walk(event, `event ${i + 1}`));
  return found;
}

const historyBytes = (history: temporal.api.history.v1.IHistory) => Buffer.from(temporal.api.history.v1.History.encode(history).finish());
const toJsonPayload = (p: Payload) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

describe('encrypted routing on a real dev server, its codec server and the Web UI', () => {
  const KEY_ID = 'k-2025';
  const keysEnv = { MODEL_ROUTER_CODEC_KEYS: `${KEY_ID}:${newKey()},k-2024:${newKey()}` };
  const dataConverter = dataConverterFromEnv(keysEnv);
  const SECRET = 'the parcel for Ada Lovelace goes to 12 Secret Lane, NW1 6XE';
  let openai: OpenAIServer;
  let plainUi: LocalServer; // its Web UI has no codec endpoint
  let decodingUi: LocalServer; // its Web UI decodes through `codec`
  let codec: CodecServer;
  let browser: TestBrowser;
  let uiOrigins: string[];
  let encrypted: DecisionLog; // routed with the key, on plainUi

  before(async () => {
    installQuietRuntime();
    // Each resource is kept as soon as it is up, so after() stops it even when another one failed to start.
    const started = await Promise.allSettled([
      startOpenAIServer(judgedModels()).then((s) => (openai = s)),
      freePort().then((uiPort) => startLocalServer({ uiPort }).then((s) => (plainUi = s))),
      launchBrowser().then((b) => (browser = b)),
      workflowBundle(),
    ]);
    for (const result of started) if (result.status === 'rejected') throw result.reason;
    // The second UI's port is picked only now, so the first server's randomly chosen ports cannot take it.
    const decodingPort = await freePort();
    uiOrigins = [plainUi.uiUrl!, `http://localhost:${decodingPort}`];
    codec = await startCodecServer({ codec: new EncryptionCodec(codecKeysFromEnv(keysEnv)!), uiOrigins });
    decodingUi = await startLocalServer({ uiPort: decodingPort, codecEndpoint: codec.url });
    encrypted = await route(plainUi, 'codec-encrypted', `Classify: ${SECRET}`, dataConverter);
  });
  after(async () => {
    await browser?.close();
    await Promise.all([plainUi?.teardown(), decodingUi?.teardown(), codec?.close(), openai?.close()]);
  });

  /** Routes one request through a real worker, with `converter` on both sides. */
  async function route(server: LocalServer, requestId: string, prompt: string, converter: DataConverter): Promise<DecisionLog> {
    const client = new Client({ connection: server.client.connection, dataConverter: converter });
    const taskQueue = `codec-${requestId}`;
    const worker = await createRouterWorker({
      connection: server.nativeConnection,
      client,
      taskQueue,
      workflows: { bundle: await workflowBundle() },
      deps: loopbackDeps(openai.baseUrl),
      dataConverter: converter,
    });
    return worker.runUntil(new RoutingToEndClient({ client, taskQueue }).route({ requestId, prompt, taskType: 'classification' }));
  }

  it('keeps prompts and answers out of history; only a client with the key reads the result', { timeout: 60_000 }, async () => {
    const control = await route(plainUi, 'codec-plain', `Classify: ${SECRET}`, dataConverterFromEnv({}));
    assert.ok(historyBytes(await plainUi.client.workflow.getHandle(control.workflowId).fetchHistory()).includes(SECRET), 'control: a plain run has the prompt in its history');

    const log = encrypted;
    // plainUi.client has no codec: it sees what the server stores.
    const history = await plainUi.client.workflow.getHandle(log.workflowId).fetchHistory();
    const bytes = historyBytes(history);
    assert.ok(!bytes.includes(SECRET), 'the prompt is nowhere in the history');
    assert.ok(!bytes.includes(log.answer), `the answer "${log.answer}" is nowhere in the history`);
    const payloads = historyPayloads(history);
    assert.ok(payloads.length >= 6, `input, result, activity inputs and results: got ${payloads.length}`);
    for (const { path, payload } of payloads) {
      assert.equal(text(payload.metadata![METADATA_ENCODING_KEY]), ENCRYPTED_ENCODING, path);
      assert.equal(text(payload.metadata![METADATA_KEY_ID]), KEY_ID, path);
    }

    const withKey = new Client({ connection: plainUi.client.connection, dataConverter });
    assert.deepEqual(await withKey.workflow.getHandle(log.workflowId).result(), log);
    await assert.rejects(plainUi.client.workflow.getHandle(log.workflowId).result(), /binary\/encrypted/);
  });

  it('decodes a history payload over HTTP for the Web UI, with CORS for the UI origin only', { timeout: 30_000 }, async () => {
    const history = await plainUi.client.workflow.getHandle(encrypted.workflowId).fetchHistory();
    const input = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    const origin = uiOrigins[0]!;

    const preflight = await fetch(`${codec.url}/decode`, {
      method: 'OPTIONS',
      headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-namespace' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), origin);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /X-Namespace/i);
    assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /POST/);
    const foreign = await fetch(`${codec.url}/decode`, { method: 'OPTIONS', headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' } });
    assert.equal(foreign.headers.get('access-control-allow-origin'), null, 'another origin is not allowed');

    const post = (path: string, body: unknown) =>
      fetch(`${codec.url}${path}`, { method: 'POST', headers: { Origin: origin, 'Content-Type': 'application/json', 'X-Namespace': 'default' }, body: JSON.stringify(body) });
    const decoded = await post('/decode', { payloads: [toJsonPayload(input)] });
    assert.equal(decoded.status, 200);
    assert.equal(decoded.headers.get('access-control-allow-origin'), origin);
    const { payloads } = (await decoded.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    const plain = { metadata: Object.fromEntries(Object.entries(payloads[0]!.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])), data: Buffer.from(payloads[0]!.data, 'base64') };
    assert.equal(defaultPayloadConverter.fromPayload<{ prompt: string }>(plain).prompt, `Classify: ${SECRET}`);

    const encoded = await post('/encode', { payloads: [toJsonPayload(defaultPayloadConverter.toPayload('hello'))] });
    const reencoded = ((await encoded.json()) as { payloads: { metadata: Record<string, string> }[] }).payloads[0]!;
    assert.equal(Buffer.from(reencoded.metadata[METADATA_KEY_ID]!, 'base64').toString(), KEY_ID);

    const bad = await post('/decode', { payload: [] });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /payloads: is required/);
    const [foreignKey] = await codecFor(`k-other:${newKey()}`).encode([defaultPayloadConverter.toPayload('x')]);
    const unknown = await post('/decode', { payloads: [toJsonPayload(foreignKey!)] });
    assert.equal(unknown.status, 422);
    assert.match(await unknown.text(), /key "k-other", which is not configured/);
  });

  it('the Web UI shows ciphertext without the codec endpoint and the prompt through it', { timeout: 90_000 }, async () => {
    const log = await route(decodingUi, 'codec-ui', `Classify: ${SECRET}`, dataConverter);
    const page = await browser.context.newPage();
    try {
      // Without the endpoint: the Input card holds the ciphertext that history holds, and no prompt.
      const history = await plainUi.client.workflow.getHandle(encrypted.workflowId).fetchHistory();
      const ciphertext = Buffer.from(history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!.data!).toString('base64');
      await page.goto(`${plainUi.uiUrl}/namespaces/default/workflows/${encrypted.workflowId}`);
      await page.getByText(ciphertext.slice(0, 48)).first().waitFor({ timeout: 30_000 });
      assert.ok(!(await page.content()).includes('Ada Lovelace'), 'no prompt on the page without the codec endpoint');

      // Through the endpoint: the same kind of run reads as plain text (the browser calls the codec server itself).
      await page.goto(`${decodingUi.uiUrl}/namespaces/default/workflows/${log.workflowId}`);
      await page.getByText(SECRET).first().waitFor({ timeout: 30_000 });
    } catch (err) {
      await page.screenshot({ path: join(tmpdir(), 'codec-ui-failure.png'), fullPage: true });
      throw err;
    } finally {
      await page.close();
    }
  });
});

describe('model-router codec-server (the built CLI)', () => {
  const CLI = join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
  const start = (args: string[], env: NodeJS.ProcessEnv) => {
    const child = spawn(process.execPath, [CLI, 'codec-server', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    return { child, stdout: () => stdout, stderr: () => stderr };
  };

  it('serves /decode with the keys from the environment and stops on Ctrl-C', { timeout: 30_000 }, async () => {
    const keys = `cli-key:${newKey()}`;
    const cli = start(['--port', '0'], { MODEL_ROUTER_CODEC_KEYS: keys });
    let url: string | undefined;
    for (const deadline = Date.now() + 20_000; !url && Date.now() < deadline && cli.child.exitCode === null; ) {
      url = /Codec server: (http:\/\/\S+)/.exec(cli.stdout())?.[1];
      if (!url) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(url, `no address printed; stderr: ${cli.stderr()}`);
    const [encoded] = await codecFor(keys).encode([defaultPayloadConverter.toPayload(PROMPT)]);
    const response = await fetch(`${url}/decode`, { method: 'POST', body: JSON.stringify({ payloads: [toJsonPayload(encoded!)] }) });
    const { payloads } = (await response.json()) as { payloads: { data: string }[] };
    assert.ok(Buffer.from(payloads[0]!.data, 'base64').toString().includes(PROMPT));
    cli.child.kill('SIGINT');
    const [code] = await once(cli.child, 'exit');
    assert.equal(code, 0);
  });

  it('refuses to start without keys, or with a bad one, naming the variable', { timeout: 30_000 }, async () => {
    for (const [env, message] of [
      [{}, /MODEL_ROUTER_CODEC_KEYS or MODEL_ROUTER_CODEC_KEY_FILE: one must be set/],
      [{ MODEL_ROUTER_CODEC_KEYS: 'k1:c2hvcnQ=' }, /MODEL_ROUTER_CODEC_KEYS: k1: must decode to 32 bytes/],
    ] as const) {
      const cli = start([], { MODEL_ROUTER_CODEC_KEYS: '', MODEL_ROUTER_CODEC_KEY_FILE: '', ...env });
      const [code] = await once(cli.child, 'exit');
      assert.equal(code, 2);
      assert.match(cli.stderr(), message);
    }
  });
});
