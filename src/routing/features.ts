import type { RequestFeatures } from '../domain/results';
import type { RouteRequest } from '../domain/request';
import { estimateTokens } from '../domain/cost';

/** Domains where a wrong answer is costly enough that quality outranks price. */
export const HIGH_RISK_DOMAINS: readonly string[] = ['medical', 'healthcare', 'legal', 'finance', 'financial', 'safety'];

const REASONING_MARKERS =
  /\b(why|explain|prove|derive|step[- ]by[- ]step|calculate|compute|estimate|compare|trade-?offs?|analy[sz]e|justify|reason|implications?|what if|diagnos\w*|evaluate)\b/gi;

/** Typical answer sizes by task, used when the caller gives no expected output size. */
const DEFAULT_OUTPUT_TOKENS: Record<string, number> = {
  classification: 8,
  extraction: 120,
  reasoning: 400,
  generation: 500,
  summarization: 200,
  qa: 150,
  code: 400,
  other: 250,
};

export function extractFeatures(request: RouteRequest): RequestFeatures {
  const historyText = request.history.map((t) => t.content).join('\n');
  const promptTokens = estimateTokens(request.prompt) + estimateTokens(historyText);
  const reasoningMarkers = (request.prompt.match(REASONING_MARKERS) ?? []).length;
  const domainRisk = HIGH_RISK_DOMAINS.includes(request.domain) ? 'high' : 'low';
  // An extraction's output schema says how many fields it asks for, when the caller did not.
  const fieldCount = request.fieldCount ?? (request.outputSchema ? Object.keys(request.outputSchema.properties).length : undefined);
  const expectedOutputTokens = request.expectedOutputTokens ?? DEFAULT_OUTPUT_TOKENS[request.taskType] ?? 250;
  // A coarse 0..1 difficulty signal; each term saturates so no single one dominates.
  const complexity =
    0.35 * Math.min(1, reasoningMarkers / 3) +
    0.25 * Math.min(1, promptTokens / 2000) +
    0.15 * Math.min(1, request.history.length / 6) +
    0.15 * Math.min(1, expectedOutputTokens / 1000) +
    0.1 * (domainRisk === 'high' ? 1 : 0);
  return {
    taskType: request.taskType,
    domain: request.domain,
    domainRisk,
    promptTokens,
    historyTurns: request.history.length,
    ...(fieldCount !== undefined ? { fieldCount } : {}),
    reasoningMarkers,
    expectedOutputTokens,
    complexity: Math.round(complexity * 1000) / 1000,
    customerTier: request.customerTier,
    timeSensitivity: request.timeSensitivity,
  };
}
