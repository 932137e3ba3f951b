import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ValidationError } from '../src/domain/validation';
import { TokenBucketLimiter } from '../src/gateway/rateLimit';
import { addApiKey, API_KEY_PATTERN, generateApiKey, hashApiKey, KeyRing, loadTenantsFile, parseTenantsFile, writeTenantsFile, type TenantsFile } from '../src/gateway/tenants';
import { DEV_TENANT, withDevKey } from '../src/gateway/devTenant';
import { runCli } from './helpers/cli';

const dir = mkdtempSync(join(tmpdir(), 'tenants-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const sha = (key: string) => createHash('sha256').update(key).digest('hex');
const tenant = (id: string, extra: Record<string, unknown> = {}) => ({ id, keys: [], allowedPolicies: ['default'], defaultPolicy: 'default', rateLimit: { requestsPerMinute: 60 }, ...extra });

/** The issues a bad file is refused with, as "path: message". */
function refusal(input: unknown): string[] {
  try {
    parseTenantsFile(input);
  } catch (err) {
    assert.ok(err instanceof ValidationError, String(err));
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail('the file was accepted');
}

describe('tenants file', () => {
  it('accepts a full tenant and fills nothing in it has not got', () => {
    const file = parseTenantsFile({
      tenants: [tenant('acme', { keys: [{ sha256: sha('sk-a'), label: 'ci', createdAt: '2026-12-03T05:00:00Z' }], allowedPolicies: ['default', 'bandit'], rateLimit: { requestsPerMinute: 600, burst: 20 }, budget: { dailyUsd: 5, monthlyUsd: 100 } })],
    });
    assert.deepEqual(file.tenants[0]!.budget, { dailyUsd: 5, monthlyUsd: 100 });
    assert.equal(file.tenants[0]!.rateLimit.burst, 20);
  });

  it('refuses bad files, naming the field and the rule', () => {
    const cases: [unknown, RegExp][] = [
      [{}, /^tenants: is required/],
      [{ tenants: [tenant('acme', { keys: [{ sha256: 'sk-plaintextkeyxxxxxxxxxxxxxxxxxxxxxxxxxxxx' }] })] }, /^tenants\.0\.keys\.0\.sha256: must be the SHA-256 hex digest/],
      [{ tenants: [tenant('acme', { defaultPolicy: 'bandit' })] }, /^tenants\.0\.defaultPolicy: must be one of allowedPolicies \(default\), got "bandit"/],
      [{ tenants: [tenant('acme', { allowedPolicies: [] })] }, /^tenants\.0\.allowedPolicies: must list at least one policy/],
      [{ tenants: [tenant('acme'), tenant('acme')] }, /^tenants\.1\.id: duplicate tenant id "acme" \(also tenants\.0\.id\)/],
      [{ tenants: [tenant('a', { keys: [{ sha256: sha('k') }] }), tenant('b', { keys: [{ sha256: sha('k') }] })] }, /^tenants\.1\.keys\.0\.sha256: duplicate key hash \(also tenants\.0\.keys\.0\)/],
      [{ tenants: [tenant('acme', { rateLimit: { requestsPerMinute: 0 } })] }, /^tenants\.0\.rateLimit\.requestsPerMinute: must be greater than 0/],
      [{ tenants: [tenant('acme', { rateLimit: { requestsPerMinute: 1.5 } })] }, /^tenants\.0\.rateLimit\.requestsPerMinute: must be a whole number/],
      [{ tenants: [tenant('acme', { budget: { dailyUsd: -1 } })] }, /^tenants\.0\.budget\.dailyUsd: must be 0 or more \(USD\)/],
      [{ tenants: [tenant('acme', { budget: { weeklyUsd: 1 } })] }, /^tenants\.0\.budget: unknown field\(s\) "weeklyUsd"/],
      [{ tenants: [tenant('no spaces')] }, /^tenants\.0\.id: must be/],
      [{ tenants: [tenant('acme', { keys: [{ sha256: sha('k'), createdAt: 'yesterday' }] })] }, /^tenants\.0\.keys\.0\.createdAt: must be an ISO 8601 time/],
    ];
    for (const [input, expected] of cases) {
      const issues = refusal(input);
      assert.ok(issues.some((i) => expected.test(i)), `${JSON.stringify(input)} → ${issues.join(' | ')}`);
    }
  });

  it('a missing or broken file says which file and what to do', () => {
    assert.throws(() => loadTenantsFile(join(dir, 'nope.json')), /nope\.json.*does not exist; create it with `model-router keys add --tenant ID`/);
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"tenants": [');
    assert.throws(() => loadTenantsFile(broken), /broken\.json: \(root\): not valid JSON/);
  });
});

describe('API keys', () => {
  it('look like OpenAI keys and differ every time', () => {
    const a = generateApiKey();
    const b = generateApiKey();
    // 32 random bytes in base64url are 43 characters.
    assert.match(a, /^sk-[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a, b);
    assert.equal(hashApiKey('sk-abc'), sha('sk-abc'));
  });

  it('addApiKey creates a missing tenant with defaults, appends to an existing one, and keeps only the hash', () => {
    const now = new Date('2026-12-03T05:00:00Z');
    const first = addApiKey({ tenants: [] }, 'acme', { now, label: 'ci' });
    assert.equal(first.created, true);
    assert.deepEqual(first.file.tenants, [
      { id: 'acme', keys: [{ sha256: sha(first.key), label: 'ci', createdAt: '2026-12-03T05:00:00.000Z' }], allowedPolicies: ['default'], defaultPolicy: 'default', rateLimit: { requestsPerMinute: 60 } },
    ]);
    const second = addApiKey(first.file, 'acme', { now });
    assert.equal(second.created, false);
    assert.deepEqual(second.file.tenants[0]!.keys.map((k) => k.sha256), [sha(first.key), sha(second.key)]);
    assert.ok(!JSON.stringify(second.file).includes(first.key.slice(3)), 'no key in the file');
    assert.throws(() => addApiKey(first.file, 'bad id!', { now }), /tenant id: \(root\): must be/);
  });

  it('KeyRing finds the tenant of a known key and nothing for any other string', () => {
    const a = generateApiKey();
    const b = generateApiKey();
    const ring = new KeyRing(parseTenantsFile({ tenants: [tenant('acme', { keys: [{ sha256: sha(a) }] }), tenant('globex', { keys: [{ sha256: sha(b) }] })] }));
    assert.equal(ring.lookup(a)?.id, 'acme');
    assert.equal(ring.lookup(b)?.id, 'globex');
    assert.equal(ring.lookup(generateApiKey()), undefined);
    assert.equal(ring.lookup(sha(a)), undefined, 'the stored hash is not a key');
    assert.equal(ring.lookup(''), undefined);
    assert.ok(API_KEY_PATTERN.test(a));
  });

  it('writeTenantsFile replaces the file whole and leaves no temporary file', () => {
    const path = join(dir, 'atomic', 'tenants.json');
    const file: TenantsFile = parseTenantsFile({ tenants: [tenant('acme')] });
    writeTenantsFile(path, file);
    writeTenantsFile(path, { tenants: [...file.tenants, parseTenantsFile({ tenants: [tenant('globex')] }).tenants[0]!] });
    assert.deepEqual(loadTenantsFile(path).tenants.map((t) => t.id), ['acme', 'globex']);
    assert.deepEqual(readdirSync(join(dir, 'atomic')), ['tenants.json']);
    assert.throws(() => writeTenantsFile(path, { tenants: [tenant('acme'), tenant('acme')] } as TenantsFile), /duplicate tenant id/);
    assert.deepEqual(loadTenantsFile(path).tenants.map((t) => t.id), ['acme', 'globex'], 'a refused write leaves the file as it was');
  });
});

describe('token bucket', () => {
  it('lets a burst through, then refills at requestsPerMinute ÷ 60 a second, with Retry-After in whole seconds', () => {
    let now = 1_000_000;
    const limiter = new TokenBucketLimiter(() => now);
    const limit = { requestsPerMinute: 6, burst: 2 }; // one token every 10 s
    assert.equal(limiter.take('acme', limit).allowed, true);
    assert.equal(limiter.take('acme', limit).allowed, true);
    assert.deepEqual(limiter.take('acme', limit), { allowed: false, retryAfterSeconds: 10 });
    now += 4_000; // 0.4 of a token: 6 s to go
    assert.deepEqual(limiter.take('acme', limit), { allowed: false, retryAfterSeconds: 6 });
    now += 6_000;
    assert.deepEqual(limiter.take('acme', limit), { allowed: true, remaining: 0 });
    // Another tenant has its own bucket.
    assert.equal(limiter.take('globex', limit).allowed, true);
    // A long quiet spell refills up to the burst, not beyond.
    now += 3_600_000;
    assert.deepEqual(limiter.take('acme', limit), { allowed: true, remaining: 1 });
    assert.deepEqual(limiter.take('acme', limit), { allowed: true, remaining: 0 });
    assert.equal(limiter.take('acme', limit).allowed, false);
  });

  it('without a burst holds a minute of requests; a clock stepping back refills nothing', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter(() => now);
    const limit = { requestsPerMinute: 3 };
    for (let i = 0; i < 3; i++) assert.equal(limiter.take('t', limit).allowed, true);
    assert.deepEqual(limiter.take('t', limit), { allowed: false, retryAfterSeconds: 20 });
    now -= 60_000;
    assert.equal(limiter.take('t', limit).allowed, false);
  });
});

describe('model-router keys add (built CLI)', () => {
  it('creates the tenants file, prints the key once and stores its hash; a second key appends', async () => {
    const path = join(dir, 'cli', 'tenants.json');
    const first = await runCli(['keys', 'add', '--tenant', 'acme', '--label', 'laptop', '--tenants', path]);
    assert.equal(first.code, 0, first.stderr);
    const key = first.stdout.trim();
    assert.match(key, /^sk-[A-Za-z0-9_-]{43}$/);
    assert.match(first.stderr, /created tenant "acme"/);
    const second = await runCli(['keys', 'add', '--tenant', 'acme'], { env: { MODEL_ROUTER_TENANTS: path } });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /added a key to tenant "acme"/);
    const stored = JSON.parse(readFileSync(path, 'utf8')) as TenantsFile;
    assert.deepEqual(stored.tenants.map((t) => t.id), ['acme']);
    assert.deepEqual(stored.tenants[0]!.keys.map((k) => k.sha256), [sha(key), sha(second.stdout.trim())]);
    assert.equal(stored.tenants[0]!.keys[0]!.label, 'laptop');
    assert.ok(!readFileSync(path, 'utf8').includes(key), 'the file never holds the key');
  });

  it('refuses a bad tenant id and a bad file, naming them, and writes nothing', async () => {
    const path = join(dir, 'cli-bad', 'tenants.json');
    const bad = await runCli(['keys', 'add', '--tenant', 'a b', '--tenants', path]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /tenant id: \(root\): must be/);
    assert.equal(bad.stdout, '');
    const missing = await runCli(['keys', 'add', '--tenants', path]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--tenant: is required/);
    const broken = join(dir, 'broken-tenants.json');
    writeFileSync(broken, JSON.stringify({ tenants: [tenant('acme', { defaultPolicy: 'other' })] }));
    const refused = await runCli(['keys', 'add', '--tenant', 'acme', '--tenants', broken]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /tenants\.0\.defaultPolicy: must be one of allowedPolicies/);
  });

  it('serve refuses a tenants file naming an unknown policy before opening anything', async () => {
    const path = join(dir, 'unknown-policy.json');
    writeFileSync(path, JSON.stringify({ tenants: [tenant('acme', { allowedPolicies: ['default', 'nope'] })] }));
    const run = await runCli(['serve', '--tenants', path, '--address', '127.0.0.1:1', '--port', '0']);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /tenants\.0\.allowedPolicies\.1: policy "nope" is not configured \(known: default, bandit\)/);
  });
});

describe('the development tenant of dev and the demo', () => {
  it('is added beside the file\'s tenants with a new key; a "dev" tenant of the file keeps its settings and gains the key', () => {
    const now = new Date('2026-12-03T07:00:00.000Z');
    const fresh = withDevKey(parseTenantsFile({ tenants: [tenant('acme')] }), ['default', 'bandit'], now);
    assert.match(fresh.key, API_KEY_PATTERN);
    assert.deepEqual(fresh.file.tenants.map((t) => t.id), ['acme', DEV_TENANT]);
    const dev = fresh.file.tenants[1]!;
    assert.deepEqual(dev.allowedPolicies, ['default', 'bandit']);
    assert.equal(dev.defaultPolicy, 'default');
    assert.deepEqual(dev.keys.map((k) => k.sha256), [sha(fresh.key)]);
    assert.equal(new KeyRing(fresh.file).lookup(fresh.key)?.id, DEV_TENANT);

    const own = parseTenantsFile({ tenants: [tenant(DEV_TENANT, { keys: [{ sha256: sha('sk-existing') }], budget: { dailyUsd: 1 } })] });
    const kept = withDevKey(own, ['default', 'bandit'], now);
    assert.equal(kept.file.tenants.length, 1);
    assert.deepEqual(kept.file.tenants[0]!.budget, { dailyUsd: 1 });
    assert.deepEqual(kept.file.tenants[0]!.allowedPolicies, ['default']);
    assert.deepEqual(kept.file.tenants[0]!.keys.map((k) => k.sha256), [sha('sk-existing'), sha(kept.key)]);
    assert.notEqual(kept.key, fresh.key, 'a new key each start');
  });
});
