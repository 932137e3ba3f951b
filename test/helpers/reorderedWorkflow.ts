import { proxyActivities } from '@temporalio/workflow';
import type { RouterActivities } from '../../src/activities';
import type { RouteRequest } from '../../src/domain/request';
import type { ModelResult } from '../../src/domain/results';

const { planRoute, callModel } = proxyActivities<RouterActivities>({ startToCloseTimeout: '10s' });

/**
 * routeRequest as a careless edit might leave it: the model is called before the route is planned. Replaying a
 * recorded routeRequest history against it must fail, which shows the replay test can catch such an edit.
 */
export async function routeRequest(request: RouteRequest): Promise<ModelResult> {
  const result = await callModel({ request, modelId: 'small-model' });
  await planRoute(request);
  return result;
}
