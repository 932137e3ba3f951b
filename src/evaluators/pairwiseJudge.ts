import type { ModelSpec } from '../domain/catalog';
import { callCeilingUsd, priceTokens } from '../domain/cost';
import { redactSecrets } from '../domain/redact';
import type { OutputSchema, RouteRequest } from '../domain/request';
import type { ModelProvider } from '../providers/types';
import { clip, JudgeReplyError, SCORE_MAX } from './judge';
import { extractJsonText } from './validators';

const PAIR_OUTPUT_TOKENS = 200;

const PAIR_SCHEMA: OutputSchema = {
  type: 'object',
  properties: { first: { type: 'number' }, second: { type: 'number' }, reason: { type: 'string' } },
  required: ['first', 'second'],
};

/** Both answers side by side, labelled only by position: the judge is not told which model wrote which. */
export function pairwiseJudgePrompt(request: RouteRequest, answers: readonly [string, string]): string {
  const history = request.history.map((t) => `${t.role}: ${t.content}`).join('\n');
  return [
    'You are grading two AI assistants\' answers to the same request. Score each on its own merits: correctness,',
    'completeness, and whether it does what the request asks; ignore style unless the task is writing, and ignore which',
    'answer comes first. A wrong, evasive or made-up answer scores low even when fluent. Equal answers get equal scores.',
    `Task type: ${request.taskType}. Domain: ${request.domain}.`,
    request.outputSchema ? `An answer must be a JSON object matching: ${JSON.stringify(request.outputSchema)}` : '',
    history ? `<conversation>\n${clip(history)}\n</conversation>` : '',
    `<request>\n${clip(request.prompt)}\n</request>`,
    `<answer id="first">\n${clip(answers[0])}\n</answer>`,
    `<answer id="second">\n${clip(answers[1])}\n</answer>`,
    `Reply with JSON only: {"first": <integer 0..${SCORE_MAX}>, "second": <integer 0..${SCORE_MAX}>, "reason": "<one sentence>"}`,
  ]
    .filter((line) => line.length > 0)
    .join('\n\n');
}

/** Reads a pairwise reply: both scores on the 0..10 scale, or undefined when either is missing or out of range. */
export function parsePairScores(reply: string): { first: number; second: number; reason?: string } | undefined {
  const body = extractJsonText(reply);
  const start = body.indexOf('{');
  const end = body.lastIndexOf('}');
  if (start < 0 || end <= start) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.slice(start, end + 1));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { first, second, reason } = parsed as Record<string, unknown>;
  const inRange = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= SCORE_MAX;
  if (!inRange(first) || !inRange(second)) return undefined;
  return { first, second, ...(typeof reason === 'string' && { reason }) };
}

export interface PairEvaluation {
  /** 0..1, in the order the answers were shown. */
  scores: [number, number];
  reason?: string;
  costUsd: number;
}

/** Scores two answers to one request in one call of a judge model (shadow evaluation). */
export class PairwiseJudge {
  constructor(private readonly options: { provider: ModelProvider; model: ModelSpec }) {}

  get modelId(): string {
    return this.options.model.id;
  }

  paidCallCeilingUsd(request: RouteRequest, answers: readonly [string, string]): number {
    return this.options.provider.bills ? callCeilingUsd(this.options.model, pairwiseJudgePrompt(request, answers), PAIR_OUTPUT_TOKENS) : 0;
  }

  async judge(request: RouteRequest, answers: readonly [string, string], signal?: AbortSignal, idempotencyKey?: string): Promise<PairEvaluation> {
    const { provider, model } = this.options;
    const completion = await provider.complete({
      // A distinct id, so replay and simulated providers never mistake the judge call for an answer.
      requestId: `${request.requestId}:shadow-judge`,
      attempt: 1,
      model,
      prompt: pairwiseJudgePrompt(request, answers),
      history: [],
      taskType: 'other',
      domain: request.domain,
      expectedOutputTokens: PAIR_OUTPUT_TOKENS,
      outputSchema: PAIR_SCHEMA,
      ...(idempotencyKey !== undefined && { idempotencyKey }),
      signal,
    });
    const costUsd = priceTokens(model, completion.inputTokens, completion.outputTokens);
    const parsed = parsePairScores(completion.text);
    if (!parsed) {
      const excerpt = redactSecrets(completion.text.length > 200 ? `${completion.text.slice(0, 200)}...` : completion.text);
      throw new JudgeReplyError(`pairwise judge ${model.id} gave no readable pair of 0..${SCORE_MAX} scores: ${JSON.stringify(excerpt)}`, completion.text, costUsd);
    }
    return { scores: [parsed.first / SCORE_MAX, parsed.second / SCORE_MAX], ...(parsed.reason !== undefined && { reason: parsed.reason }), costUsd };
  }
}
