import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ValidationError } from '../src/domain/validation';
import type { RoutingPolicy } from '../src/routing/strategies/registry';
import { loadRouterConfig } from '../src/worker/config';
import { wireActivityDeps } from '../src/worker/wiring';

function rulesOf(policy: RoutingPolicy | undefined) {
  assert.equal(policy?.strategy, 'rules');
  return policy.rules;
}

const dir = mkdtempSync(join(tmpdir(), 'router-config-test-'));
let files = 0;
function writeJson(value: unknown): string {
  const path = join(dir, `config-${++files}.json`);
  writeFileSync(path, JSON.stringify(value));
  return path;
}

const timeouts = { startToCloseMs: 1_000, scheduleToCloseMs: 10_000 };
function model(id: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, provider: 'simulated', tier: 1, tierName: 'small', inputUsdPer1M: 0.1, outputUsdPer1M: 0.2, contextWindow: 8_000, timeouts, ...overrides };
}
const goodCatalog = { models: [model('cheap'), model('strong', { tier: 3, tierName: 'large', inputUsdPer1M: 3, outputUsdPer1M: 12 })] };

function policy(rules: unknown[], id = 'custom'): Record<string, unknown> {
  return { id, version: 'v1', strategy: 'rules', gate: { threshold: 0.9 }, maxEscalations: 1, rules };
}
const fallback = { id: 'fallback', description: 'Default.', when: {}, route: { tier: 'large' } };

/** loadRouterConfig's error, asserted to be thrown. */
function loadError(env: NodeJS.ProcessEnv): Error {
  try {
    loadRouterConfig(env);
  } catch (err) {
    assert.ok(err instanceof Error);
    return err;
  }
  return assert.fail('the configuration was accepted');
}

after(() => rmSync(dir, { recursive: true, force: true }));

describe('loadRouterConfig', () => {
  it('accepts the defaults in config/', () => {
    const config = loadRouterConfig({});
    assert.deepEqual(
      config.catalog.models.map((m) => [m.id, m.tierName, m.provider]),
      [
        ['gpt-4o-mini', 'small', 'simulated'],
        ['gpt-4.1-mini', 'medium', 'simulated'],
        ['gpt-4o', 'large', 'simulated'],
      ],
    );
    assert.deepEqual([...config.policies.keys()], ['default', 'bandit']);
    const rules = rulesOf(config.policies.get('default'));
    assert.equal(rules[rules.length - 1]!.id, 'default-large');
  });

  it('reads a catalog and policies from files', () => {
    const config = loadRouterConfig({
      MODEL_ROUTER_CATALOG: writeJson(goodCatalog),
      MODEL_ROUTER_POLICIES: `${writeJson(policy([fallback], 'one'))}, ${writeJson(policy([fallback], 'two'))}`,
    });
    assert.deepEqual(config.catalog.models.map((m) => m.id), ['cheap', 'strong']);
    assert.deepEqual([...config.policies.keys()], ['one', 'two']);
    // zod's default confidence is applied to a rule that gives none.
    assert.equal(rulesOf(config.policies.get('one'))[0]!.confidence, 0.8);
  });

  it('rejects a catalog with a duplicate model id, naming the field', () => {
    const path = writeJson({ models: [model('cheap'), model('strong'), model('cheap')] });
    const err = loadError({ MODEL_ROUTER_CATALOG: path });
    assert.ok(err instanceof ValidationError);
    assert.equal(err.message, `Invalid model catalog (MODEL_ROUTER_CATALOG=${path}): models.2.id: duplicate model id "cheap"`);
  });

  it('rejects a negative price, naming the field', () => {
    const err = loadError({ MODEL_ROUTER_CATALOG: writeJson({ models: [model('cheap'), model('strong', { outputUsdPer1M: -1 })] }) });
    assert.ok(err instanceof ValidationError);
    assert.match(err.message, /^Invalid model catalog \(MODEL_ROUTER_CATALOG=.*\.json\): models\.1\.outputUsdPer1M: Number must be greater than or equal to 0$/);
  });

  it('rejects a fractional context window as not a whole number', () => {
    const err = loadError({ MODEL_ROUTER_CATALOG: writeJson({ models: [model('cheap', { contextWindow: 8000.5 })] }) });
    assert.ok(err instanceof ValidationError);
    assert.match(err.message, /^Invalid model catalog \(MODEL_ROUTER_CATALOG=.*\.json\): models\.0\.contextWindow: must be a whole number$/);
  });

  it('rejects scheduleToCloseMs below startToCloseMs, naming the field', () => {
    const bad = model('cheap', { timeouts: { startToCloseMs: 60_000, scheduleToCloseMs: 30_000 } });
    const err = loadError({ MODEL_ROUTER_CATALOG: writeJson({ models: [bad] }) });
    assert.ok(err instanceof ValidationError);
    assert.match(err.message, /\): models\.0\.timeouts\.scheduleToCloseMs: scheduleToCloseMs must be at least startToCloseMs$/);
  });

  it('rejects a catalog file that is not JSON, naming the variable and the path', () => {
    const path = join(dir, 'broken.json');
    writeFileSync(path, '{ "models": [');
    const err = loadError({ MODEL_ROUTER_CATALOG: path });
    assert.ok(err.message.startsWith(`MODEL_ROUTER_CATALOG: cannot read JSON from "${path}"`), err.message);
  });

  it('rejects a policy whose last rule is not a default', () => {
    const rules = [fallback, { id: 'classification-small', description: 'Small.', when: { taskType: ['classification'] }, route: { tier: 'small' } }];
    const path = writeJson(policy(rules));
    const err = loadError({ MODEL_ROUTER_CATALOG: writeJson(goodCatalog), MODEL_ROUTER_POLICIES: path });
    assert.ok(err instanceof ValidationError);
    assert.equal(err.message, `Invalid routing policy (MODEL_ROUTER_POLICIES=${path}): rules: the last rule must be a default with an empty "when"`);
  });

  it('rejects a policy rule that names a model missing from the catalog', () => {
    const rules = [{ id: 'code-named', description: 'Named model.', when: { taskType: ['code'] }, route: { model: 'gpt-4o' } }, fallback];
    // gpt-4o is in the default catalog but not in this one.
    const path = writeJson(policy(rules));
    const err = loadError({ MODEL_ROUTER_CATALOG: writeJson(goodCatalog), MODEL_ROUTER_POLICIES: path });
    assert.ok(err instanceof ValidationError);
    assert.equal(err.message, `Invalid routing policy (MODEL_ROUTER_POLICIES=${path}): rules.0.route.model: "gpt-4o" is not in the catalog`);
    // The same policy loads against a catalog that has the model.
    assert.equal(rulesOf(loadRouterConfig({ MODEL_ROUTER_POLICIES: writeJson(policy(rules)) }).policies.get('custom'))[0]!.id, 'code-named');
  });

  it('rejects a speculative partner missing from the catalog, naming the file, the field and the known models', () => {
    const path = writeJson({ ...policy([fallback]), speculative: { whenConfidenceBelow: 0.6, partner: { model: 'gpt-4o' } } });
    const err = loadError({ MODEL_ROUTER_CATALOG: writeJson(goodCatalog), MODEL_ROUTER_POLICIES: path });
    assert.ok(err instanceof ValidationError);
    assert.equal(err.message, `Invalid routing policy (MODEL_ROUTER_POLICIES=${path}): speculative.partner.model: "gpt-4o" is not in the catalog (cheap, strong)`);
    // A partner named by tier or as the best model is always on the ladder; prefer defaults to cost.
    const byTier = loadRouterConfig({ MODEL_ROUTER_CATALOG: writeJson(goodCatalog), MODEL_ROUTER_POLICIES: writeJson({ ...policy([fallback]), speculative: { whenConfidenceBelow: 0.6, partner: { tier: 'large' } } }) });
    assert.deepEqual(byTier.policies.get('custom')?.speculative, { whenConfidenceBelow: 0.6, partner: { tier: 'large' }, prefer: 'cost' });
  });

  it('MODEL_ROUTER_PROVIDER sends every model to one provider and changes nothing else', () => {
    const catalogPath = writeJson({ models: [model('cheap', { provider: 'simulated' }), model('strong', { provider: 'replay', tier: 3, tierName: 'large' })] });
    const plain = loadRouterConfig({ MODEL_ROUTER_CATALOG: catalogPath });
    assert.deepEqual(plain.catalog.models.map((m) => m.provider), ['simulated', 'replay']);
    const overridden = loadRouterConfig({ MODEL_ROUTER_CATALOG: catalogPath, MODEL_ROUTER_PROVIDER: 'openai' });
    assert.deepEqual(overridden.catalog.models.map((m) => m.provider), ['openai', 'openai']);
    assert.deepEqual(
      overridden.catalog.models.map(({ provider: _provider, ...rest }) => rest),
      plain.catalog.models.map(({ provider: _provider, ...rest }) => rest),
    );
    assert.deepEqual(loadRouterConfig({ MODEL_ROUTER_PROVIDER: 'openai' }).catalog.models.map((m) => m.provider), ['openai', 'openai', 'openai']);
  });

  it('rejects two policy files with the same id, naming both files, the field and the rule', () => {
    const first = writeJson(policy([fallback], 'same'));
    const second = writeJson(policy([fallback], 'same'));
    const err = loadError({ MODEL_ROUTER_POLICIES: `${first},${second}` });
    assert.ok(err instanceof ValidationError);
    assert.equal(err.message, `Invalid routing policy (MODEL_ROUTER_POLICIES=${second}): id: duplicate policy id "same", already used by routing policy (MODEL_ROUTER_POLICIES=${first})`);
  });

  it('rejects a tier name that contradicts the tier order, naming the file, the field and both models', () => {
    const path = writeJson({ models: [model('cheap', { tier: 1, tierName: 'large' }), model('strong', { tier: 3, tierName: 'small' })] });
    const err = loadError({ MODEL_ROUTER_CATALOG: path });
    assert.ok(err instanceof ValidationError);
    assert.equal(
      err.message,
      `Invalid model catalog (MODEL_ROUTER_CATALOG=${path}): models.1.tierName: "small" at tier 3 does not match "large" at tier 1 (models.0): ` +
        'models of one tier share a tier name, and a higher tier must not have a weaker one',
    );
    // Two names for one tier are refused too; one name for two tiers is fine.
    assert.match(loadError({ MODEL_ROUTER_CATALOG: writeJson({ models: [model('a'), model('b', { tierName: 'medium' })] }) }).message, /models\.1\.tierName: "medium" at tier 1 does not match "small" at tier 1/);
    assert.equal(loadRouterConfig({ MODEL_ROUTER_CATALOG: writeJson({ models: [model('a'), model('b', { tier: 2 })] }) }).catalog.models.length, 2);
  });

  it('rejects an absurd price, naming the file, the field and the bound', () => {
    const path = writeJson({ models: [model('cheap', { inputUsdPer1M: 1e300 })] });
    const err = loadError({ MODEL_ROUTER_CATALOG: path });
    assert.ok(err instanceof ValidationError);
    assert.equal(err.message, `Invalid model catalog (MODEL_ROUTER_CATALOG=${path}): models.0.inputUsdPer1M: must be at most 10000 (USD per 1M tokens)`);
  });

  it('names the field and the allowed tiers for a rule routed to an unknown tier', () => {
    const path = writeJson(policy([{ ...fallback, route: { tier: 'huge' } }]));
    const err = loadError({ MODEL_ROUTER_POLICIES: path });
    assert.ok(err instanceof ValidationError);
    assert.equal(err.message, `Invalid routing policy (MODEL_ROUTER_POLICIES=${path}): rules.0.route.tier: must be one of "small", "medium", "large", got "huge"`);
  });

  it('names the policy file, the field and the missing artefact file', () => {
    const missing = join(dir, 'no-such-artefact.json');
    const path = writeJson({ id: 'learned', version: 'v1', strategy: 'classifier', gate: { threshold: 0.9 }, maxEscalations: 1, classifier: { artefactPath: missing } });
    const err = loadError({ MODEL_ROUTER_POLICIES: path });
    assert.ok(err instanceof ValidationError);
    assert.equal(err.message, `Invalid routing policy (MODEL_ROUTER_POLICIES=${path}): classifier.artefactPath: cannot read "${missing}": no such file`);
  });
});

/** wireActivityDeps's error for this environment (default config), asserted to be thrown. */
async function wiringError(env: NodeJS.ProcessEnv): Promise<Error> {
  try {
    await (await wireActivityDeps(loadRouterConfig({}), env)).close();
  } catch (err) {
    assert.ok(err instanceof Error);
    return err;
  }
  return assert.fail('the environment was accepted');
}

describe('wireActivityDeps', () => {
  it('rejects an OPENAI_BASE_URL that is not an http(s) URL, naming the variable and the rule', async () => {
    assert.equal((await wiringError({ OPENAI_BASE_URL: 'not-a-url' })).message, 'OPENAI_BASE_URL: must be an absolute http:// or https:// URL (e.g. https://api.openai.com/v1), got "not-a-url"');
    assert.equal((await wiringError({ OPENAI_BASE_URL: 'ftp://models.example/v1' })).message, 'OPENAI_BASE_URL: must use http:// or https://, got "ftp://models.example/v1"');
  });

  it('never repeats the credentials of an OPENAI_BASE_URL in its error', async () => {
    // (Credentials in a valid http(s) URL are accepted and sent as Basic auth: test/secrets.test.ts.)
    for (const url of ['admin:s3cret@models.example', 'ftp://admin:s3cret@models.example']) {
      const { message } = await wiringError({ OPENAI_BASE_URL: url });
      assert.match(message, /^OPENAI_BASE_URL: must/);
      assert.doesNotMatch(message, /s3cret|admin/, message);
    }
  });

  it('rejects a directory as the decision log, naming the variable and the rule', async () => {
    const logDir = join(dir, 'a-directory');
    mkdirSync(logDir);
    assert.equal((await wiringError({ MODEL_ROUTER_DECISION_LOG: logDir })).message, `MODEL_ROUTER_DECISION_LOG: "${logDir}" is a directory: the decision log must be a SQLite file (e.g. .model-router/decision-log.db)`);
  });

  it('rejects a decision log under /proc or /sys before SQLite can spin on it', async () => {
    for (const [path, root] of [['/proc/self/decision-log.db', '/proc'], ['/proc/self/status', '/proc'], ['/sys/kernel/decision-log.db', '/sys']] as const) {
      assert.equal((await wiringError({ MODEL_ROUTER_DECISION_LOG: path })).message, `MODEL_ROUTER_DECISION_LOG: "${path}" is under ${root}: the decision log must be a SQLite file on a real filesystem`);
    }
  });

  it('rejects a decision log whose parent is a file, naming the variable and the rule', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    const path = join(file, 'decision-log.db');
    assert.equal((await wiringError({ MODEL_ROUTER_DECISION_LOG: path })).message, `MODEL_ROUTER_DECISION_LOG: "${path}" cannot be created: ${file} is not a directory`);
  });

  it('opens a decision log whose directories do not exist yet', async () => {
    const path = join(dir, 'new', 'nested', 'decision-log.db');
    const wiring = await wireActivityDeps(loadRouterConfig({}), { MODEL_ROUTER_DECISION_LOG: path });
    assert.deepEqual(wiring.store.location, { kind: 'sqlite', path, display: path });
    assert.equal(await wiring.store.count(), 0);
    await wiring.close();
  });
});
