import { readFileSync } from 'node:fs';
import { CatalogSchema, type Catalog } from '../domain/catalog';
import { RoutingPolicySchema, type RoutingPolicy, type RulesPolicy } from '../domain/policy';
import { parseOrThrow, ValidationError } from '../domain/validation';
import defaultCatalog from '../../config/catalog.json';
import defaultPolicy from '../../config/default-policy.json';

export interface RouterConfig {
  catalog: Catalog;
  policies: Map<string, RoutingPolicy>;
}

function readJson(path: string, envVar: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${envVar}: cannot read JSON from "${path}": ${(err as Error).message}`);
  }
}

/**
 * The catalog and routing policies, validated at start-up so a typo stops the worker instead of a request.
 * MODEL_ROUTER_CATALOG and MODEL_ROUTER_POLICIES (comma-separated files) replace the defaults in config/;
 * MODEL_ROUTER_PROVIDER sends every catalog model to one provider (e.g. "openai" for a real endpoint).
 */
export function loadRouterConfig(env: NodeJS.ProcessEnv = process.env): RouterConfig {
  const catalogInput = env.MODEL_ROUTER_CATALOG ? readJson(env.MODEL_ROUTER_CATALOG, 'MODEL_ROUTER_CATALOG') : defaultCatalog;
  let catalog = parseOrThrow(CatalogSchema, catalogInput, 'model catalog');
  if (env.MODEL_ROUTER_PROVIDER) {
    const provider = env.MODEL_ROUTER_PROVIDER;
    catalog = { models: catalog.models.map((m) => ({ ...m, provider })) };
  }
  const policyInputs = env.MODEL_ROUTER_POLICIES
    ? env.MODEL_ROUTER_POLICIES.split(',').map((p) => readJson(p.trim(), 'MODEL_ROUTER_POLICIES'))
    : [defaultPolicy];
  const policies = new Map<string, RoutingPolicy>();
  for (const input of policyInputs) {
    const policy = parseOrThrow(RoutingPolicySchema, input, 'routing policy');
    if (policy.strategy === 'rules') checkRuleTargets(policy, catalog);
    policies.set(policy.id, policy);
  }
  return { catalog, policies };
}

/** A rule naming a model the catalog lacks would fail every request it matches: refuse it at start-up. */
function checkRuleTargets(policy: RulesPolicy, catalog: Catalog): void {
  policy.rules.forEach((rule, i) => {
      const model = 'model' in rule.route ? rule.route.model : undefined;
      if (model !== undefined && !catalog.models.some((m) => m.id === model)) {
      throw new ValidationError('routing policy', [{ path: `rules.${i}.route.model`, message: `"${model}" is not in the catalog` }]);
    }
  });
}
