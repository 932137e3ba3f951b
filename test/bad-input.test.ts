import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { RequestConflictError, RouterClient, requestFingerprint, routeWorkflowId, validateRouteRequest } from '../src/client';
import type { RouteRequestInput } from '../src/domain/request';
import { ValidationError } from '../src/domain/validation';
import { timeSkippingEnv } from './helpers/temporal';

/**
 * Malformed requests sent through the real client against a real time-skipping server. No worker runs: a bad
 * request must be refused by the client before it reaches the server at all.
 *
 * The time-skipping server has no advanced visibility (`client.workflow.count()` and `list()` fail with
 * "Failed to count/list workflows"), but it does serve the standard ListOpen/ListClosedWorkflowExecutions calls,
 * so those are how these tests count what the server has started. A control test below shows that a valid start
 * does move that count, so the "nothing started" assertions can fail.
 */

const TASK_QUEUE = 'bad-input-test';

const valid = {
  requestId: 'bad-input-ok',
  prompt: 'Classify the sentiment of: "The parcel arrived early, thanks!"',
  taskType: 'classification',
} as const;

interface BadCase {
  name: string;
  input: unknown;
  /** Every pattern must appear in the error message: each names a field path and the rule it broke. */
  expect: RegExp[];
  /** Send through route() instead of startRoute(). */
  viaRoute?: boolean;
}

const TASK_TYPE_LIST = '"classification", "extraction", "reasoning", "generation", "summarization", "qa", "code", "other"';
const ID_RULE = 'must be 1-128 characters of letters, digits, ".", "_", ":" or "-", starting with a letter or digit';

function escape(s: string): RegExp {
  return new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
}

const cases: BadCase[] = [
  {
    name: 'missing requestId',
    input: { prompt: valid.prompt, taskType: 'classification' },
    expect: [/requestId: is required/],
  },
  {
    name: 'requestId with spaces',
    input: { ...valid, requestId: 'order 42' },
    expect: [escape(`requestId: ${ID_RULE}`)],
    viaRoute: true,
  },
  {
    name: 'requestId with a slash',
    input: { ...valid, requestId: 'tenant/42' },
    expect: [escape(`requestId: ${ID_RULE}`)],
  },
  {
    name: 'empty prompt',
    input: { ...valid, requestId: 'bad-empty-prompt', prompt: '' },
    expect: [/prompt: must not be empty or only whitespace/],
    viaRoute: true,
  },
  {
    name: 'whitespace-only prompt',
    input: { ...valid, requestId: 'bad-blank-prompt', prompt: ' \n\t  ' },
    expect: [/prompt: must not be empty or only whitespace/],
  },
  {
    name: 'prompt that is not a string',
    input: { ...valid, requestId: 'bad-prompt-type', prompt: 42 },
    expect: [/prompt: must be string, got number/],
  },
  {
    name: 'unknown taskType',
    input: { ...valid, requestId: 'bad-task', taskType: 'translation' },
    expect: [escape(`taskType: must be one of ${TASK_TYPE_LIST}, got "translation"`)],
    viaRoute: true,
  },
  {
    name: 'negative fieldCount',
    input: { ...valid, requestId: 'bad-fields-neg', taskType: 'extraction', fieldCount: -1 },
    expect: [/fieldCount: Number must be greater than or equal to 0/],
  },
  {
    name: 'fractional fieldCount',
    input: { ...valid, requestId: 'bad-fields-frac', taskType: 'extraction', fieldCount: 2.5 },
    expect: [/fieldCount: must be a whole number/],
  },
  {
    name: 'unknown top-level field (typo "promt")',
    input: { requestId: 'bad-typo', promt: valid.prompt, taskType: 'classification' },
    // The typo is reported as an unknown field, and the real field as missing.
    expect: [/\(root\): unknown field\(s\) "promt"/, /prompt: is required/],
    viaRoute: true,
  },
  {
    name: 'history turn with a bad role',
    input: {
      ...valid,
      requestId: 'bad-role',
      history: [
        { role: 'user', content: 'Hi' },
        { role: 'bot', content: 'Hello' },
      ],
    },
    expect: [/history\.1\.role: must be one of "user", "assistant", "system", got "bot"/],
  },
  {
    name: 'outputSchema whose required names an undeclared property',
    input: {
      ...valid,
      requestId: 'bad-schema',
      taskType: 'extraction',
      outputSchema: { type: 'object', properties: { orderNumber: { type: 'string' } }, required: ['orderNumber', 'amount'] },
    },
    expect: [/outputSchema\.required\.1: names "amount", which is not one of properties/],
  },
  {
    name: 'budgetUsd of 0',
    input: { ...valid, requestId: 'bad-budget', budgetUsd: 0 },
    expect: [/budgetUsd: must be greater than 0/],
  },
  {
    name: 'negative expectedOutputTokens',
    input: { ...valid, requestId: 'bad-output-tokens', expectedOutputTokens: -5 },
    expect: [/expectedOutputTokens: must be greater than 0/],
  },
  {
    name: 'unknown customerTier',
    input: { ...valid, requestId: 'bad-tier', customerTier: 'gold' },
    expect: [/customerTier: must be one of "free", "standard", "premium", "enterprise", got "gold"/],
    viaRoute: true,
  },
  {
    name: 'null instead of an object',
    input: null,
    expect: [/\(root\): must be object, got null/],
  },
  {
    name: 'a string instead of an object',
    input: 'route this please',
    expect: [/\(root\): must be object, got string/],
    viaRoute: true,
  },
  {
    name: 'several bad fields at once',
    input: { requestId: 'bad-many', prompt: '   ', fieldCount: 1.5, customerTier: 'vip' },
    expect: [/prompt: must not be empty or only whitespace/, /fieldCount: must be a whole number/, /customerTier: must be one of .*got "vip"/],
  },
];

describe('bad requests through RouterClient on the time-skipping server', () => {
  let env: TestWorkflowEnvironment;
  let router: RouterClient;

  /** Every execution the server knows, open or closed. */
  async function executionsOnServer(): Promise<string[]> {
    const service = env.client.workflowService;
    const [open, closed] = await Promise.all([
      service.listOpenWorkflowExecutions({ namespace: env.namespace ?? 'default', maximumPageSize: 1000 }),
      service.listClosedWorkflowExecutions({ namespace: env.namespace ?? 'default', maximumPageSize: 1000 }),
    ]);
    return [...open.executions, ...closed.executions].map((e) => e.execution?.workflowId ?? '?').sort();
  }

  before(async () => {
    env = await timeSkippingEnv();
    router = new RouterClient({ client: env.client, taskQueue: TASK_QUEUE });
  });
  after(async () => {
    await env?.teardown();
  });

  for (const c of cases) {
    it(`refuses ${c.name}, naming the field and the rule, and starts nothing`, async () => {
      const before = await executionsOnServer();
      const send = c.viaRoute ? router.route.bind(router) : router.startRoute.bind(router);
      const err = await send(c.input as RouteRequestInput).then(
        () => assert.fail('the request was accepted'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ValidationError, `expected a ValidationError, got ${String(err)}`);
      assert.match(err.message, /^Invalid RouteRequest: /);
      for (const pattern of c.expect) assert.match(err.message, pattern);
      assert.equal(err.issues.length, c.expect.length, `one issue per broken rule, got: ${err.message}`);

      assert.deepEqual(await executionsOnServer(), before, 'a workflow was started for a bad request');
      const requestId = (c.input as { requestId?: unknown } | null)?.requestId;
      if (typeof requestId === 'string') {
        await assert.rejects(env.client.workflow.getHandle(routeWorkflowId('default', requestId)).describe(), WorkflowNotFoundError);
      }
    });
  }

  it('control: a valid request does start route-<requestId>, so the checks above can see a start', async () => {
    const before = await executionsOnServer();
    assert.ok(!before.includes(routeWorkflowId('default', valid.requestId)));
    const handle = await router.startRoute(valid);
    assert.equal(handle.workflowId, 'route-default-bad-input-ok');
    assert.deepEqual(await executionsOnServer(), [...before, 'route-default-bad-input-ok'].sort());
    const description = await env.client.workflow.getHandle('route-default-bad-input-ok').describe();
    assert.equal(description.type, 'routeRequest');
    assert.equal(description.taskQueue, TASK_QUEUE);
  });

  it('joins a reused requestId with the same content, and refuses it with different content', async () => {
    const first = { ...valid, requestId: 'reused-id' };
    const handle = await router.startRoute(first);
    // Defaults spelled out are the same request.
    const again = await router.startRoute({ ...first, domain: 'general', customerTier: 'standard' });
    const { memo, runId } = await handle.describe();
    assert.equal((await again.describe()).runId, runId);
    assert.equal(memo?.requestFingerprint, requestFingerprint(validateRouteRequest(first)));

    const before = await executionsOnServer();
    for (const changed of [{ prompt: 'Classify the sentiment of: "Late again."' }, { taskType: 'qa' }, { policyId: 'bandit' }, { fieldCount: 3 }] as const) {
      const err = await router.startRoute({ ...first, ...changed }).then(
        () => assert.fail(`${JSON.stringify(changed)} joined the first request`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof RequestConflictError, `expected a RequestConflictError, got ${String(err)}`);
      assert.equal(err.message, 'requestId "reused-id" was already used for a different request (workflow route-default-reused-id); a new request needs a new requestId');
    }
    assert.deepEqual(await executionsOnServer(), before);
  });

  it('refuses a policyId the workers do not serve, naming the known ones, and starts nothing', async () => {
    const known = new RouterClient({ client: env.client, taskQueue: TASK_QUEUE, knownPolicies: ['default', 'bandit'] });
    const before = await executionsOnServer();
    const err = await known.startRoute({ ...valid, requestId: 'unknown-policy', policyId: 'no-such-policy' }).then(
      () => assert.fail('the request was accepted'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ValidationError);
    assert.equal(err.message, 'Invalid RouteRequest: policyId: unknown policy "no-such-policy" (known: default, bandit)');
    assert.deepEqual(await executionsOnServer(), before);
  });
});
