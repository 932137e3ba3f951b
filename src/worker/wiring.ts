import { join } from 'node:path';
import type { ActivityDeps } from '../activities';
import { DecisionLogStore } from '../analytics/decisionLogStore';
import { ScorerByOrigin } from '../evaluators/byOrigin';
import { QualityGate, defaultValidators } from '../evaluators/gate';
import { LlmJudge } from '../evaluators/judge';
import { OpenAICompatibleProvider } from '../providers/openai';
import { ReplayProvider } from '../providers/replay';
import { SimulatedProvider } from '../providers/simulated';
import type { ModelProvider } from '../providers/types';
import { PROJECT_ROOT } from '../servers/binaries';
import type { RouterConfig } from './config';
import { checkDecisionLogPath } from './decisionLogPath';

export const DEFAULT_DECISION_LOG = join(PROJECT_ROOT, '.model-router', 'decision-log.db');

export interface Wiring {
  deps: ActivityDeps;
  store: DecisionLogStore;
  simulated: SimulatedProvider;
}

/**
 * Providers, gate and decision-log store from the environment:
 * - the simulated provider is always there (the offline default);
 * - OPENAI_BASE_URL / OPENAI_API_KEY add the OpenAI-compatible HTTP provider ("openai");
 * - MODEL_ROUTER_REPLAY_FILES (comma-separated outcome files) adds the replay provider ("replay");
 * - MODEL_ROUTER_JUDGE_MODEL (a catalog id) grades live answers with an LLM judge;
 * - MODEL_ROUTER_DECISION_LOG is the SQLite file of decision logs.
 */
export function wireActivityDeps(config: RouterConfig, env: NodeJS.ProcessEnv = process.env, overrides: { decisionLogPath?: string } = {}): Wiring {
  const simulated = new SimulatedProvider(env.MODEL_ROUTER_SIM_LATENCY_SCALE ? { latencyScale: Number(env.MODEL_ROUTER_SIM_LATENCY_SCALE) } : {});
  const providers: Record<string, ModelProvider> = { simulated };
  if (env.OPENAI_BASE_URL || env.OPENAI_API_KEY) providers.openai = OpenAICompatibleProvider.fromEnv(env);
  if (env.MODEL_ROUTER_REPLAY_FILES) providers.replay = ReplayProvider.fromFiles(env.MODEL_ROUTER_REPLAY_FILES.split(',').map((p) => p.trim()));

  for (const model of config.catalog.models) {
    if (!providers[model.provider]) {
      throw new Error(
        `model catalog: models.${model.id}.provider: provider "${model.provider}" is not configured ` +
          `(configured: ${Object.keys(providers).join(', ')}; set OPENAI_BASE_URL/OPENAI_API_KEY for "openai", MODEL_ROUTER_REPLAY_FILES for "replay")`,
      );
    }
  }

  let judge: LlmJudge | undefined;
  if (env.MODEL_ROUTER_JUDGE_MODEL) {
    const model = config.catalog.models.find((m) => m.id === env.MODEL_ROUTER_JUDGE_MODEL);
    if (!model) throw new Error(`MODEL_ROUTER_JUDGE_MODEL: "${env.MODEL_ROUTER_JUDGE_MODEL}" is not in the catalog`);
    judge = new LlmJudge({ provider: providers[model.provider]!, model });
  }

  const [decisionLogPath, setting] = overrides.decisionLogPath
    ? [overrides.decisionLogPath, 'decision log']
    : env.MODEL_ROUTER_DECISION_LOG
      ? [env.MODEL_ROUTER_DECISION_LOG, 'MODEL_ROUTER_DECISION_LOG']
      : [DEFAULT_DECISION_LOG, 'decision log (default)'];
  checkDecisionLogPath(decisionLogPath, setting);
  const store = new DecisionLogStore(decisionLogPath);
  return {
    deps: {
      catalog: config.catalog,
      policies: config.policies,
      providers,
      gate: new QualityGate({ validators: defaultValidators(), scorer: new ScorerByOrigin(judge) }),
      decisionLog: store,
      strategyEnv: config.strategyEnv,
    },
    store,
    simulated,
  };
}
