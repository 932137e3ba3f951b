import type { ModelSpec } from '../domain/catalog';
import type { OutputSchema, RouteRequest } from '../domain/request';
import type { ModelResult } from '../domain/results';
import type { ModelProvider } from '../providers/types';
import { callCeilingUsd, priceTokens } from '../domain/cost';
import { redactSecrets } from '../domain/redact';
import { extractJsonText } from './validators';
import type { Evaluation, Evaluator } from './types';

/**
 * The judge answered, but not with a score we can read. Retrying usually helps (sampling differs), so the
 * activity layer treats this as retryable; `costUsd` is what the unreadable call still cost.
 */
export class JudgeReplyError extends Error {
  constructor(
    message: string,
    readonly reply: string,
    readonly costUsd: number,
  ) {
    super(message);
    this.name = 'JudgeReplyError';
  }
}

/** A judge needs the gist, not 400k characters: long sections are clipped to keep its call cheap and in context. */
const MAX_SECTION_CHARS = 12_000;
const JUDGE_OUTPUT_TOKENS = 150;
export const SCORE_MAX = 10;

const JUDGE_SCHEMA: OutputSchema = {
  type: 'object',
  properties: { score: { type: 'number' }, reason: { type: 'string' } },
  required: ['score'],
};

export function clip(text: string): string {
  return text.length <= MAX_SECTION_CHARS ? text : `${text.slice(0, MAX_SECTION_CHARS)}\n[... ${text.length - MAX_SECTION_CHARS} more characters clipped]`;
}

export function judgePrompt(request: RouteRequest, answer: string): string {
  const history = request.history.map((t) => `${t.role}: ${t.content}`).join('\n');
  return [
    'You are grading an AI assistant\'s answer. Judge correctness, completeness, and whether it does what the request asks;',
    'ignore style unless the task is writing. A wrong, evasive or made-up answer scores low even when fluent.',
    `Task type: ${request.taskType}. Domain: ${request.domain}.`,
    request.outputSchema ? `The answer must be a JSON object matching: ${JSON.stringify(request.outputSchema)}` : '',
    history ? `<conversation>\n${clip(history)}\n</conversation>` : '',
    `<request>\n${clip(request.prompt)}\n</request>`,
    `<answer>\n${clip(answer)}\n</answer>`,
    `Reply with JSON only: {"score": <integer 0..${SCORE_MAX}>, "reason": "<one sentence>"}`,
  ]
    .filter((line) => line.length > 0)
    .join('\n\n');
}

export interface JudgeScore {
  /** On the judge's 0..10 scale. */
  score: number;
  reason?: string;
}

function scoreFromJson(text: string): JudgeScore | undefined {
  const body = extractJsonText(text);
  // Tolerate prose around the object: take the outermost braces.
  const start = body.indexOf('{');
  const end = body.lastIndexOf('}');
  if (start < 0 || end <= start) return undefined;
  try {
    const parsed: unknown = JSON.parse(body.slice(start, end + 1));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { score, reason } = parsed as { score?: unknown; reason?: unknown };
    const value = typeof score === 'number' ? score : typeof score === 'string' ? Number(score.trim()) : NaN;
    if (!Number.isFinite(value)) return undefined;
    return { score: value, reason: typeof reason === 'string' ? reason : undefined };
  } catch {
    return undefined;
  }
}

/** Fallback for judges that ignore the JSON instruction: "Score: 7", "score = 8/10", "Score: 4 out of 5". */
function scoreFromText(text: string): JudgeScore | undefined {
  const m = /\bscore\b\s*[:=]?\s*(\d+(?:\.\d+)?)\s*(?:(?:\/|out of)\s*(\d+))?/i.exec(text);
  if (!m?.[1]) return undefined;
  const raw = Number(m[1]);
  const outOf = m[2] ? Number(m[2]) : SCORE_MAX;
  if (!(outOf > 0)) return undefined;
  return { score: (raw / outOf) * SCORE_MAX };
}

/** Reads a judge reply; undefined when it holds no score in 0..10. */
export function parseJudgeScore(reply: string): JudgeScore | undefined {
  const found = scoreFromJson(reply) ?? scoreFromText(reply);
  if (!found || found.score < 0 || found.score > SCORE_MAX) return undefined;
  return found;
}

/** Scores an answer by asking another model; its cost is counted as evaluator spend. */
export class LlmJudge implements Evaluator {
  readonly name = 'judge';
  readonly callsModelForLiveAnswers = true;
  private readonly provider: ModelProvider;
  private readonly model: ModelSpec;

  constructor(options: { provider: ModelProvider; model: ModelSpec }) {
    this.provider = options.provider;
    this.model = options.model;
  }

  paidCallCeilingUsd(request: RouteRequest, result: ModelResult): number {
    return this.provider.bills ? callCeilingUsd(this.model, judgePrompt(request, result.text), JUDGE_OUTPUT_TOKENS) : 0;
  }

  async evaluate(request: RouteRequest, result: ModelResult, signal?: AbortSignal, idempotencyKey?: string): Promise<Evaluation> {
    const completion = await this.provider.complete({
      // A distinct id, so replay and simulated providers never mistake the judge call for the answer itself.
      requestId: `${request.requestId}:judge`,
      attempt: 1,
      model: this.model,
      prompt: judgePrompt(request, result.text),
      history: [],
      taskType: 'other',
      domain: request.domain,
      expectedOutputTokens: JUDGE_OUTPUT_TOKENS,
      outputSchema: JUDGE_SCHEMA,
      ...(idempotencyKey !== undefined && { idempotencyKey }),
      signal,
    });
    const costUsd = priceTokens(this.model, completion.inputTokens, completion.outputTokens);
    const parsed = parseJudgeScore(completion.text);
    if (!parsed) {
      // The excerpt ends up in history; a judge (or the proxy in front of it) may echo credentials back.
      const excerpt = redactSecrets(completion.text.length > 200 ? `${completion.text.slice(0, 200)}...` : completion.text);
      throw new JudgeReplyError(`judge ${this.model.id} gave no readable 0..${SCORE_MAX} score: ${JSON.stringify(excerpt)}`, completion.text, costUsd);
    }
    const score = parsed.score / SCORE_MAX;
    const reasons = [`judge ${this.model.id} scored ${parsed.score}/${SCORE_MAX}${parsed.reason ? `: ${parsed.reason}` : ''}`];
    return { score, reasons, costUsd };
  }
}
