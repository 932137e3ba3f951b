import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ValidationError } from '../src/domain/validation';
import type { RoutingPolicy } from '../src/routing/strategies/registry';
import { loadRouterConfig } from '../src/worker/config';

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
    const err = loadError({ MODEL_ROUTER_CATALOG: writeJson({ models: [model('cheap'), model('strong'), model('cheap')] }) });
    assert.ok(err instanceof ValidationError);
    assert.equal(err.message, 'Invalid model catalog: models.2.id: duplicate model id "cheap"');
  });

  it('rejects a negative price, naming the field', () => {
    const err = loadError({ MODEL_ROUTER_CATALOG: writeJson({ models: [model('cheap'), model('strong', { outputUsdPer1M: -1 })] }) });
    assert.ok(err instanceof ValidationError);
    assert.match(err.message, /^Invalid model catalog: models\.1\.outputUsdPer1M: Number must be greater than or equal to 0$/);
  });

  it('rejects a fractional context window as not a whole number', () => {
    const err = loadError({ MODEL_ROUTER_CATALOG: writeJson({ models: [model('cheap', { contextWindow: 8000.5 })] }) });
    assert.ok(err instanceof ValidationError);
    assert.equal(err.message, 'Invalid model catalog: models.0.contextWindow: must be a whole number');
  });

  it('rejects scheduleToCloseMs below startToCloseMs, naming the field', () => {
    const bad = model('cheap', { timeouts: { startToCloseMs: 60_000, scheduleToCloseMs: 30_000 } });
    const err = loadError({ MODEL_ROUTER_CATALOG: writeJson({ models: [bad] }) });
    assert.ok(err instanceof ValidationError);
    assert.equal(err.message, 'Invalid model catalog: models.0.timeouts.scheduleToCloseMs: scheduleToCloseMs must be at least startToCloseMs');
  });

  it('rejects a catalog file that is not JSON, naming the variable and the path', () => {
    const path = join(dir, 'broken.json');
    writeFileSync(path, '{ "models": [');
    const err = loadError({ MODEL_ROUTER_CATALOG: path });
    assert.ok(err.message.startsWith(`MODEL_ROUTER_CATALOG: cannot read JSON from "${path}"`), err.message);
  });

  it('rejects a policy whose last rule is not a default', () => {
    const rules = [fallback, { id: 'classification-small', description: 'Small.', when: { taskType: ['classification'] }, route: { tier: 'small' } }];
    const err = loadError({ MODEL_ROUTER_CATALOG: writeJson(goodCatalog), MODEL_ROUTER_POLICIES: writeJson(policy(rules)) });
    assert.ok(err instanceof ValidationError);
    assert.equal(err.message, 'Invalid routing policy: rules: the last rule must be a default with an empty "when"');
  });

  it('rejects a policy rule that names a model missing from the catalog', () => {
    const rules = [{ id: 'code-named', description: 'Named model.', when: { taskType: ['code'] }, route: { model: 'gpt-4o' } }, fallback];
    // gpt-4o is in the default catalog but not in this one.
    const err = loadError({ MODEL_ROUTER_CATALOG: writeJson(goodCatalog), MODEL_ROUTER_POLICIES: writeJson(policy(rules)) });
    assert.ok(err instanceof ValidationError);
    assert.equal(err.message, 'Invalid routing policy: rules.0.route.model: "gpt-4o" is not in the catalog');
    // The same policy loads against a catalog that has the model.
    assert.equal(rulesOf(loadRouterConfig({ MODEL_ROUTER_POLICIES: writeJson(policy(rules)) }).policies.get('custom'))[0]!.id, 'code-named');
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
});
