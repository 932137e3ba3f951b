import assert from 'node:assert/strict';
import type { Client } from '@temporalio/client';
import { RouterClient, type RouterClientOptions } from '../../src/client';
import type { RouteRequestInput } from '../../src/domain/request';
import type { DecisionLog } from '../../src/domain/results';

/**
 * route() answers early and the run goes on to write its row and outcome. A test that owns the only worker and
 * stops it after route() would cut those off; this client waits for the run's end, and checks on the way that what
 * the caller got early is what the run ended with.
 */
export class RoutingToEndClient extends RouterClient {
  private readonly temporal: Client;

  constructor(options: RouterClientOptions) {
    super(options);
    this.temporal = options.client;
  }

  override async route(input: RouteRequestInput, options: { earlyReturn?: boolean } = {}): Promise<DecisionLog> {
    const answer = await super.route(input, options);
    assert.deepEqual(await this.temporal.workflow.getHandle(answer.workflowId).result(), answer, 'the early answer is the run\'s result');
    return answer;
  }
}
