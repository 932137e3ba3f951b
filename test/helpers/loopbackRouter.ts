import type { ActivityDeps } from '../../src/activities';
import type { ModelSpec } from '../../src/domain/catalog';
import { ScorerByOrigin } from '../../src/evaluators/byOrigin';
import { QualityGate, defaultValidators } from '../../src/evaluators/gate';
import { LlmJudge } from '../../src/evaluators/judge';
import { OpenAICompatibleProvider } from '../../src/providers/openai';
import { defaultPolicies, testCatalog } from './catalog';
import { chatCompletion, type ChatRequestBody, type Scripted, type ScriptHandler } from './openaiServer';

/** The judge is a model on the same loopback server, so its calls (and their price) are real HTTP calls too. */
export const JUDGE: ModelSpec = {
  id: 'judge-model',
  provider: 'openai',
  tier: 1,
  tierName: 'small',
  inputUsdPer1M: 0.1,
  outputUsdPer1M: 0.1,
  contextWindow: 128_000,
  timeouts: { startToCloseMs: 5_000, scheduleToCloseMs: 60_000 },
};

/** Every model answers with these token counts, so a call's price is known in advance. */
export const ANSWER_USAGE = { prompt_tokens: 100, completion_tokens: 50 } as const;

/** Put this in a prompt and the judge fails the small model's answer to it, so the request escalates. */
export const HARD_MARKER = '[hard]';

export interface LoopbackScript {
  /** Overrides the answer of a model's n-th call (1-based, counted per model); undefined keeps the default. */
  script?: Record<string, (n: number) => Scripted | undefined>;
  /** Which answers the judge fails; by default the small model's answer to a prompt holding HARD_MARKER. */
  judgeFails?: (model: string, judgePrompt: string) => boolean;
}

const failsHardForSmall = (model: string, judgePrompt: string) => model === 'small-model' && judgePrompt.includes(HARD_MARKER);

/**
 * Models answer `answer from <model>`; the judge scores 10, or 3 for the answers `judgeFails` picks. Verdicts
 * depend on the request, not on call order, so concurrent requests stay independent.
 */
export function judgedModels(opts: LoopbackScript = {}): ScriptHandler {
  const seen: Record<string, number> = {};
  return (body: ChatRequestBody): Scripted => {
    const n = (seen[body.model] = (seen[body.model] ?? 0) + 1);
    if (body.model === JUDGE.id) {
      const prompt = body.messages.map((m) => m.content).join('\n');
      const author = /answer from ([\w.-]+)/.exec(prompt)?.[1] ?? '';
      const failing = (opts.judgeFails ?? failsHardForSmall)(author, prompt);
      return { json: chatCompletion(JUDGE.id, JSON.stringify({ score: failing ? 3 : 10, reason: failing ? 'wrong' : 'right' })) };
    }
    return opts.script?.[body.model]?.(n) ?? { json: chatCompletion(body.model, `answer from ${body.model}`, ANSWER_USAGE) };
  };
}

/** Activity dependencies for a router whose three tiers and judge all live behind one loopback OpenAI server. */
export function loopbackDeps(baseUrl: string, overrides: Partial<ActivityDeps> & { startToCloseMs?: number } = {}): ActivityDeps {
  const { startToCloseMs, ...deps } = overrides;
  const provider = new OpenAICompatibleProvider({ baseUrl, requestTimeoutMs: 60_000 });
  return {
    catalog: testCatalog('openai', startToCloseMs),
    policies: defaultPolicies(),
    providers: { openai: provider },
    gate: new QualityGate({ validators: defaultValidators(), scorer: new ScorerByOrigin(new LlmJudge({ provider, model: JUDGE })) }),
    heartbeatIntervalMs: 200,
    ...deps,
  };
}
