import type { DecisionLog } from '../domain/results';

/** A decision log as OpenAI's `chat.completion`, its `x-router-*` headers, and the chunks of a streamed answer. */

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/**
 * The tokens of the call that produced the kept answer (the model the response names). What the whole request
 * cost, escalations and judge calls included, is in `x-router-cost-usd`.
 */
export function usageOf(log: DecisionLog): Usage {
  const kept = [...log.attempts].reverse().find((a) => a.model === log.finalModel && a.status !== 'failed' && a.status !== 'cancelled');
  const prompt = kept?.inputTokens ?? 0;
  const completion = kept?.outputTokens ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

export const completionId = (requestId: string) => `chatcmpl-${requestId}`;
const createdOf = (log: DecisionLog) => Math.floor(Date.parse(log.timestamp) / 1000);

export function chatCompletion(log: DecisionLog) {
  return {
    id: completionId(log.requestId),
    object: 'chat.completion' as const,
    created: createdOf(log),
    model: log.finalModel,
    system_fingerprint: log.policyVersion,
    choices: [{ index: 0, message: { role: 'assistant' as const, content: log.answer, refusal: null }, logprobs: null, finish_reason: 'stop' as const }],
    usage: usageOf(log),
  };
}

/** HTTP header values are Latin-1 without control characters; a decision's reason is free text. */
/** The signs routing reasons use, spelled in ASCII (a header carries no other); anything else becomes a space. */
const ASCII_SPELLING: Record<string, string> = { '±': '+/-', '→': '->', '—': '-', '–': '-', '≥': '>=', '≤': '<=', '×': 'x', '÷': '/' };

function headerSafe(text: string, max = 200): string {
  const flat = text
    .replace(/[±→—–≥≤×÷]/g, (c) => ASCII_SPELLING[c]!)
    .replace(/[^\x20-\x7e]+/g, ' ')
    .trim();
  return flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
}

export function routerHeaders(log: DecisionLog): Record<string, string> {
  return {
    'x-router-request-id': log.requestId,
    'x-router-workflow-id': log.workflowId,
    'x-router-model': log.finalModel,
    'x-router-escalated': String(log.wasEscalated),
    'x-router-cost-usd': log.costUsd.toFixed(8),
    'x-router-cost-saved-usd': log.costSavedUsd.toFixed(8),
    'x-router-decision': headerSafe(`${log.passed ? 'passed' : 'failed'} gate (score ${log.qualityScore.toFixed(2)}): ${log.decision.reason}`),
  };
}

/** The kept answer in pieces of whole words (with their spacing), so joined they are exactly the answer. */
export function answerPieces(text: string, wordsPerPiece = 4): string[] {
  const words = text.match(/\s*\S+\s*/g) ?? [text];
  const pieces: string[] = [];
  for (let i = 0; i < words.length; i += wordsPerPiece) pieces.push(words.slice(i, i + wordsPerPiece).join(''));
  if (pieces.join('') !== text) return [text];
  return pieces.length > 0 ? pieces : [''];
}

/** The streamed answer as OpenAI's `chat.completion.chunk` objects: a role chunk, the content, the finish, usage. */
export function completionChunks(log: DecisionLog, includeUsage: boolean) {
  const base = { id: completionId(log.requestId), object: 'chat.completion.chunk' as const, created: createdOf(log), model: log.finalModel, system_fingerprint: log.policyVersion };
  const usage = includeUsage ? { usage: null } : {};
  const choice = (delta: Record<string, unknown>, finish: 'stop' | null) => ({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...usage });
  return [
    choice({ role: 'assistant', content: '', refusal: null }, null),
    ...answerPieces(log.answer).map((piece) => choice({ content: piece }, null)),
    choice({}, 'stop'),
    ...(includeUsage ? [{ ...base, choices: [], usage: usageOf(log) }] : []),
  ];
}
