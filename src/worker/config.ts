import { readFileSync } from 'node:fs';
import { CatalogSchema, type Catalog } from '../domain/catalog';
import { parseOrThrow, ValidationError } from '../domain/validation';
import { fileStrategyEnv } from '../activities/fileCache';
import { bestModel, escalationLadder } from '../routing/ladder';
import { checkShadowJudge } from '../routing/shadow';
import { speculativePartner } from '../routing/speculative';
import { cascadeProblem, RoutingPolicySchema, strategyOf, type RoutingPolicy } from '../routing/strategies/registry';
import type { StrategyEnv } from '../routing/strategies/types';
import defaultCatalog from '../../config/catalog.json';
import banditPolicy from '../../config/bandit-policy.json';
import defaultPolicy from '../../config/default-policy.json';

export interface RouterConfig {
  catalog: Catalog;
  policies: Map<string, RoutingPolicy>;
  /** How the policies' strategies read their artefacts (already read once by the start-up checks). */
  strategyEnv: StrategyEnv;
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
  const catalogSubject = env.MODEL_ROUTER_CATALOG ? `model catalog (MODEL_ROUTER_CATALOG=${env.MODEL_ROUTER_CATALOG})` : 'model catalog (config/catalog.json)';
  const catalogInput = env.MODEL_ROUTER_CATALOG ? readJson(env.MODEL_ROUTER_CATALOG, 'MODEL_ROUTER_CATALOG') : defaultCatalog;
  let catalog = parseOrThrow(CatalogSchema, catalogInput, catalogSubject);
  if (env.MODEL_ROUTER_PROVIDER) {
    const provider = env.MODEL_ROUTER_PROVIDER;
    catalog = { models: catalog.models.map((m) => ({ ...m, provider })) };
  }
  const policySources: { subject: string; input: unknown }[] = env.MODEL_ROUTER_POLICIES
    ? env.MODEL_ROUTER_POLICIES.split(',').map((p) => ({ subject: `routing policy (MODEL_ROUTER_POLICIES=${p.trim()})`, input: readJson(p.trim(), 'MODEL_ROUTER_POLICIES') }))
    : [
        { subject: 'routing policy (config/default-policy.json)', input: defaultPolicy },
        { subject: 'routing policy (config/bandit-policy.json)', input: banditPolicy },
      ];
  const strategyEnv = fileStrategyEnv(escalationLadder(catalog.models));
  const policies = new Map<string, RoutingPolicy>();
  const subjects = new Map<string, string>();
  for (const { subject, input } of policySources) {
    const policy = parseOrThrow(RoutingPolicySchema, input, subject);
    // Requests name a policy by id: a second file with the same id would silently replace the first.
    const first = subjects.get(policy.id);
    if (first) throw new ValidationError(subject, [{ path: 'id', message: `duplicate policy id "${policy.id}", already used by ${first}` }]);
    try {
      // A rule, a speculative partner or a shadow judge naming a missing model, or an artefact trained for another catalog, would fail
      // every request it meets.
      const definition = strategyOf(policy);
      const cascade = policy.escalation === 'cascade' ? cascadeProblem(policy.strategy) : undefined;
      if (cascade) throw new ValidationError(subject, [{ path: 'escalation', message: cascade }]);
      definition.check?.(policy, strategyEnv);
      if (policy.speculative) speculativePartner(policy.speculative, { ladder: strategyEnv.ladder, bestModel: bestModel(strategyEnv.ladder).id });
      checkShadowJudge(policy.shadow, strategyEnv.ladder);
    } catch (err) {
      throw err instanceof ValidationError ? new ValidationError(subject, err.issues) : err;
    }
    policies.set(policy.id, policy);
    subjects.set(policy.id, subject);
  }
  return { catalog, policies, strategyEnv };
}
