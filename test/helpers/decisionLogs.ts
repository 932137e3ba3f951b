import { DecisionLogSchema, type DecisionLog } from '../../src/domain/results';

/** A made-up decision log: one request routed by the rules to "small" that passed, with `over` on top. */
export function decisionLogFor(requestId: string, over: Partial<DecisionLog> = {}): DecisionLog {
  return DecisionLogSchema.parse({
    requestId,
    workflowId: `route-${requestId}`,
    timestamp: '2026-12-02T00:00:00.000Z',
    tenant: 'default',
    policyId: 'default',
    policyVersion: '1',
    strategy: 'rules',
    requestFeatures: { taskType: 'qa', domain: 'general', domainRisk: 'low', promptTokens: 10, historyTurns: 0, reasoningMarkers: 0, expectedOutputTokens: 20, complexity: 0.1 },
    decision: { model: 'small', confidence: 0.9, confidenceAdjustment: 0, alternatives: [], reason: 'test', strategy: 'rules', policyVersion: '1' },
    selectedModel: 'small',
    finalModel: 'small',
    alternativeModels: [],
    confidence: 0.9,
    qualityScore: 1,
    passed: true,
    costUsd: 0.002,
    costSavedUsd: 0.01,
    bestModel: 'large',
    wasEscalated: false,
    escalations: 0,
    attempts: [],
    answer: 'an answer',
    origin: 'live',
    ...over,
  });
}
