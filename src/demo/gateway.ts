import type { BudgetWorkflowView } from '../workflows/budget';
import type { LocalGateway } from '../gateway/local';
import { DEMO_REQUESTS } from './requests';

/*
 * The demo's last part: a few of its requests as an OpenAI SDK would send them, over HTTP to the gateway, under the
 * development tenant (and its budget). Plain fetch: the wire format is the point, and the tests use the openai client.
 */

export interface GatewayCall {
  /** What the caller asked for: "router", "router/<policy>" or a catalog model. */
  model: string;
  idempotencyKey: string;
  status: number;
  /** The model that answered (the completion's `model`), and the router's headers. */
  answeredBy?: string;
  requestId?: string;
  escalated?: boolean;
  costUsd?: number;
  decision?: string;
  error?: string;
}

export interface GatewayDemo {
  baseUrl: string;
  tenant: string;
  calls: GatewayCall[];
  /** The development tenant's budget after the calls: every model call reserved, then settled. */
  budget: { capUsd: number | null; spentUsd: number; reservedUsd: number };
}

async function chat(gateway: LocalGateway, model: string, idempotencyKey: string, index: number): Promise<GatewayCall> {
  const request = DEMO_REQUESTS[index]!;
  const response = await fetch(`${gateway.baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
    body: JSON.stringify({
      model,
      messages: [{ role: 'user', content: request.prompt }],
      max_tokens: 256,
      metadata: { ...(request.taskType && { taskType: request.taskType }), ...(request.domain && { domain: request.domain }) },
    }),
  });
  const body = (await response.json()) as { model?: string; error?: { message: string } };
  const header = (name: string) => response.headers.get(name) ?? undefined;
  if (!response.ok) return { model, idempotencyKey, status: response.status, error: body.error?.message ?? response.statusText };
  return {
    model,
    idempotencyKey,
    status: response.status,
    ...(body.model && { answeredBy: body.model }),
    ...(header('x-router-request-id') && { requestId: header('x-router-request-id') }),
    escalated: header('x-router-escalated') === 'true',
    costUsd: Number(header('x-router-cost-usd') ?? 0),
    ...(header('x-router-decision') && { decision: header('x-router-decision') }),
  };
}

/**
 * Routed by the default policy, by the bandit policy, pinned to the cheapest catalog model, and the first again with
 * its Idempotency-Key (the retry gets the first run's answer: no second model call, no second charge).
 */
export async function callGateway(gateway: LocalGateway, cheapestModel: string, budgetOf: (tenant: string) => Promise<BudgetWorkflowView>): Promise<GatewayDemo> {
  const run = Date.now().toString(36);
  const calls = await Promise.all([
    chat(gateway, 'router', `gw-demo-${run}-1`, 0),
    chat(gateway, 'router/bandit', `gw-demo-${run}-2`, 8),
    chat(gateway, cheapestModel, `gw-demo-${run}-3`, 16),
  ]);
  calls.push(await chat(gateway, 'router', `gw-demo-${run}-1`, 0));
  // A call is settled just after its answer leaves: wait (briefly) for the last settles to land.
  let view = await budgetOf(gateway.tenant);
  for (let waited = 0; view.reservations.length > 0 && waited < 10_000; waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    view = await budgetOf(gateway.tenant);
  }
  const { day } = view;
  return { baseUrl: gateway.baseUrl, tenant: gateway.tenant, calls, budget: { capUsd: day.capUsd, spentUsd: day.spentUsd, reservedUsd: day.reservedUsd } };
}
