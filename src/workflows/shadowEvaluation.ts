import { proxyActivities, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { RouterActivities } from '../activities';
import type { RouteRequestInput } from '../domain/request';
import type { ModelResult, ShadowSample } from '../domain/results';
import type { Rung } from '../routing/ladder';
import { EVALUATE_OPTIONS, modelCallOptions, retry } from './activityOptions';

/** What the request's workflow hands its shadow: enough to run the best model and write the sample, no configuration. */
export interface ShadowEvaluationInput {
  /** The request as its model calls got it: a claim-checked prompt stays a reference. */
  request: RouteRequestInput;
  requestId: string;
  tenant: string;
  policyId: string;
  strategy: string;
  /** The answer the request kept. */
  routed: ModelResult;
  best: Rung;
  /** The best model's answer when the request already has one (a race's partner): not run again, its cost is the request's. */
  bestAnswer?: ModelResult;
  /** The policy's `shadow.judgeModel`: a pairwise LLM judge; absent: the gate's scorer for the answers' origin. */
  judgeModel?: string;
}

const { callModel } = proxyActivities<RouterActivities>({ startToCloseTimeout: '60s' });
const { judgeShadowPair } = proxyActivities<RouterActivities>({ ...EVALUATE_OPTIONS, summary: 'shadow: blind judge of both answers' });
// Nobody waits for the sample: keep trying to write it for a while.
const RECORD_OPTIONS: ActivityOptions = { startToCloseTimeout: '10s', scheduleToCloseTimeout: '15m', retry: { ...retry, maximumInterval: '1m' }, summary: 'record: write the shadow sample' };
const { recordShadowSample } = proxyActivities<RouterActivities>(RECORD_OPTIONS);

/**
 * The best model answers the request too, a judge scores both answers blind, and the sample is written. Started by
 * routeRequest after its answer was returned and abandoned by it: a failure here (the best model down, the judge
 * unreadable) fails this run only, visible in the Web UI, and no sample is written.
 */
export async function shadowEvaluation(input: ShadowEvaluationInput): Promise<ShadowSample> {
  const { request, routed, best: bestRung } = input;
  const best =
    input.bestAnswer ??
    (await callModel.executeWithOptions(modelCallOptions(bestRung, `shadow: ${bestRung.id} beside ${routed.model}`), [{ request, modelId: bestRung.id }]));
  const judged = await judgeShadowPair({ request, routed, best, ...(input.judgeModel !== undefined && { judgeModel: input.judgeModel }) });
  const sample: ShadowSample = {
    requestId: input.requestId,
    workflowId: workflowInfo().workflowId,
    timestamp: new Date().toISOString(),
    tenant: input.tenant,
    policyId: input.policyId,
    strategy: input.strategy,
    routedModel: routed.model,
    bestModel: best.model,
    judgeModel: judged.judge,
    routedScore: judged.routedScore,
    bestScore: judged.bestScore,
    routedShownFirst: judged.routedShownFirst,
    // A best answer the request already paid for is in the request's cost, not the shadow's.
    costUsd: (input.bestAnswer ? 0 : best.costUsd) + judged.costUsd,
    origin: routed.origin === best.origin ? routed.origin : 'mixed',
  };
  await recordShadowSample(sample);
  return sample;
}
