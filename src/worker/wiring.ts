import { join } from 'node:path';
import type { ActivityDeps } from '../activities';
import { DecisionLogStore } from '../analytics/decisionLogStore';
import { DecisionLogWriter } from '../analytics/decisionLogWriter';
import { parseDecisionLogLocation } from '../analytics/store/location';
import type { DecisionLogSink } from '../domain/results';
import { ScorerByOrigin } from '../evaluators/byOrigin';
import { QualityGate, defaultValidators } from '../evaluators/gate';
import { LlmJudge } from '../evaluators/judge';
import { CircuitBreakingProvider } from '../providers/breakerProvider';
import type { CircuitBreakerOptions } from '../providers/circuitBreaker';
import { OpenAICompatibleProvider } from '../providers/openai';
import { ReplayProvider } from '../providers/replay';
import { SimulatedProvider } from '../providers/simulated';
import type { ModelProvider } from '../providers/types';
import { PROJECT_ROOT } from '../servers/binaries';
import type { RouterConfig } from './config';
import { FileContentStore } from '../claimCheck/contentStore';
import { payloadCodecFromEnv } from '../codec';

export const DEFAULT_DECISION_LOG = join(PROJECT_ROOT, '.model-router', 'decision-log.db');
export const DEFAULT_CONTENT_DIR = join(PROJECT_ROOT, '.model-router', 'content');

export interface Wiring {
  deps: ActivityDeps;
  /** For reading the decision log (reports, the demo); activities write through a writer thread instead. */
  store: DecisionLogStore;
  simulated: SimulatedProvider;
  /** Claim-checked prompts: clients that start requests for these workers must share it. */
  contentStore: FileContentStore;
  /** Waits for pending decision-log writes, then closes the store. */
  close(): Promise<void>;
}

/**
 * Providers, gate and decision-log store from the environment:
 * - the simulated provider is always there (the offline default);
 * - OPENAI_BASE_URL / OPENAI_API_KEY add the OpenAI-compatible HTTP provider ("openai");
 * - MODEL_ROUTER_REPLAY_FILES (comma-separated outcome files) adds the replay provider ("replay");
 * - MODEL_ROUTER_JUDGE_MODEL (a catalog id) grades live answers with an LLM judge;
 * - MODEL_ROUTER_DECISION_LOG is the decision log: a SQLite file (the default), or a postgres:// URL that several
 *   workers share;
 * - MODEL_ROUTER_CONTENT_DIR is the content store of claim-checked prompts (shared with the clients).
 * Every provider sits behind per-model circuit breakers, for the life of this worker.
 */
export async function wireActivityDeps(
  config: RouterConfig,
  env: NodeJS.ProcessEnv = process.env,
  overrides: { decisionLogPath?: string; circuitBreaker?: CircuitBreakerOptions } = {},
): Promise<Wiring> {
  const simulated = new SimulatedProvider(env.MODEL_ROUTER_SIM_LATENCY_SCALE ? { latencyScale: Number(env.MODEL_ROUTER_SIM_LATENCY_SCALE) } : {});
  const upstreams: Record<string, ModelProvider> = { simulated };
  if (env.OPENAI_BASE_URL || env.OPENAI_API_KEY) upstreams.openai = OpenAICompatibleProvider.fromEnv(env);
  if (env.MODEL_ROUTER_REPLAY_FILES) upstreams.replay = ReplayProvider.fromFiles(env.MODEL_ROUTER_REPLAY_FILES.split(',').map((p) => p.trim()));
  const providers: Record<string, ModelProvider> = Object.fromEntries(
    Object.entries(upstreams).map(([name, provider]) => [name, new CircuitBreakingProvider(provider, overrides.circuitBreaker)]),
  );

  for (const model of config.catalog.models) {
    if (!providers[model.provider]) {
      throw new Error(
        `model catalog: models.${model.id}.provider: provider "${model.provider}" is not configured ` +
          `(configured: ${Object.keys(providers).join(', ')}; set OPENAI_BASE_URL/OPENAI_API_KEY for "openai", MODEL_ROUTER_REPLAY_FILES for "replay")`,
      );
    }
  }

  const judgeOn = (modelId: string, where: string): LlmJudge => {
    const model = config.catalog.models.find((m) => m.id === modelId);
    if (!model) throw new Error(`${where}: "${modelId}" is not in the catalog`);
    return new LlmJudge({ provider: providers[model.provider]!, model });
  };
  const judge = env.MODEL_ROUTER_JUDGE_MODEL ? judgeOn(env.MODEL_ROUTER_JUDGE_MODEL, 'MODEL_ROUTER_JUDGE_MODEL') : undefined;
  const failoverJudges = new Map<string, LlmJudge>();
  for (const policy of config.policies.values()) {
    const choice = policy.gate.onJudgeUnavailable;
    if (typeof choice === 'object') failoverJudges.set(choice.failover, judgeOn(choice.failover, `routing policy "${policy.id}": gate.onJudgeUnavailable.failover`));
  }

  const [decisionLogPath, setting] = overrides.decisionLogPath
    ? [overrides.decisionLogPath, 'decision log']
    : env.MODEL_ROUTER_DECISION_LOG
      ? [env.MODEL_ROUTER_DECISION_LOG, 'MODEL_ROUTER_DECISION_LOG']
      : [DEFAULT_DECISION_LOG, 'decision log (default)'];
  const location = parseDecisionLogLocation(decisionLogPath, setting);
  // Opened (and migrated) here, so a bad or newer database stops start-up before any worker polls.
  const store = await DecisionLogStore.open(location, { setting });
  // SQLite writes go through a thread of their own (a locked file must not block the loop); PostgreSQL's are async.
  const writer: DecisionLogSink & { close(): Promise<void> } = location.kind === 'sqlite' ? new DecisionLogWriter(location.path) : store;
  const contentStore = new FileContentStore(env.MODEL_ROUTER_CONTENT_DIR || DEFAULT_CONTENT_DIR, payloadCodecFromEnv(env));
  return {
    deps: {
      catalog: config.catalog,
      policies: config.policies,
      providers,
      gate: new QualityGate({ validators: defaultValidators(), scorer: new ScorerByOrigin(judge), failoverJudges }),
      decisionLog: writer,
      contentStore,
      strategyEnv: config.strategyEnv,
    },
    store,
    simulated,
    contentStore,
    async close() {
      if (writer !== store) await writer.close();
      await store.close();
    },
  };
}
