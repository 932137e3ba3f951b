import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { ModelCallObservation, RouterMetrics } from '../activities/metrics';
import type { DecisionLog, QualityVerdict } from '../domain/results';
import type { ProviderErrorKind } from '../providers/types';
import { checkMetricsPort } from './metricsPort';
import type { SdkMetricsPort } from './runtime';

/** LLM calls run from tens of milliseconds (a cached or small model) to minutes (long reasoning answers). */
export const MODEL_CALL_SECONDS_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300];

const REQUEST_LABELS = ['strategy', 'policy', 'tenant'] as const;

/**
 * The router's metrics in a registry of their own (never prom-client's global one, so two workers in one process,
 * as in tests, do not share counts). Names and labels are listed in the README's "Metrics" section.
 */
export class PrometheusRouterMetrics implements RouterMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'model_router_requests_total',
    help: 'Finished requests (decision-log rows written), counted once per request.',
    labelNames: [...REQUEST_LABELS, 'final_model', 'escalated', 'passed', 'origin'],
    registers: [this.registry],
  });
  private readonly cost = new Counter({
    name: 'model_router_cost_usd_total',
    help: "What finished requests cost, in USD, by the model called; call=judge is the gate's judging of that model's answer.",
    labelNames: ['model', 'call', ...REQUEST_LABELS],
    registers: [this.registry],
  });
  private readonly bestModelCost = new Counter({
    name: 'model_router_best_model_cost_usd_total',
    help: 'What always calling the best model would have cost the same requests, in USD; cost saved = this minus model_router_cost_usd_total.',
    labelNames: REQUEST_LABELS,
    registers: [this.registry],
  });
  private readonly escalations = new Counter({
    name: 'model_router_escalations_total',
    help: 'Escalation steps of finished requests (a request escalated twice counts 2).',
    labelNames: REQUEST_LABELS,
    registers: [this.registry],
  });
  private readonly verdicts = new Counter({
    name: 'model_router_gate_verdicts_total',
    help: "Quality-gate evaluations, per activity attempt, by the model whose answer was judged.",
    labelNames: ['model', 'verdict', 'evaluator'],
    registers: [this.registry],
  });
  private readonly callSeconds = new Histogram({
    name: 'model_router_model_call_duration_seconds',
    help: 'Wall time of model-call attempts (retries included), by how they ended.',
    labelNames: ['model', 'provider', 'outcome'],
    buckets: MODEL_CALL_SECONDS_BUCKETS,
    registers: [this.registry],
  });
  private readonly providerErrors = new Counter({
    name: 'model_router_provider_errors_total',
    help: 'Failed model-call attempts by provider error kind, before Temporal retries them.',
    labelNames: ['model', 'provider', 'kind'],
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    // Node's own (event-loop lag, heap, CPU): a worker starved by its event loop misses heartbeats.
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  requestRecorded(log: DecisionLog): void {
    const request = { strategy: log.strategy, policy: log.policyId, tenant: log.tenant };
    this.requests.inc({ ...request, final_model: log.finalModel, escalated: String(log.wasEscalated), passed: String(log.passed), origin: log.origin });
    for (const attempt of log.attempts) {
      this.cost.inc({ ...request, model: attempt.model, call: 'answer' }, attempt.costUsd);
      if (attempt.verdict) this.cost.inc({ ...request, model: attempt.model, call: 'judge' }, attempt.verdict.costUsd);
    }
    // A counter cannot go down, and routing costs more than the best model when it escalates: the counterfactual
    // is counted instead, and the saving is the difference.
    this.bestModelCost.inc(request, log.costUsd + log.costSavedUsd);
    this.escalations.inc(request, log.escalations);
  }

  modelCall(call: ModelCallObservation): void {
    this.callSeconds.observe({ model: call.model, provider: call.provider, outcome: call.outcome }, call.seconds);
  }

  verdict(model: string, verdict: QualityVerdict): void {
    this.verdicts.inc({ model, verdict: verdict.passed ? 'passed' : 'failed', evaluator: verdict.evaluator });
  }

  providerError(kind: ProviderErrorKind, model: string, provider: string): void {
    this.providerErrors.inc({ model, provider, kind });
  }
}

export interface MetricsServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

/**
 * Serves `registry` at GET /metrics on `port` (all interfaces: Prometheus scrapes from elsewhere). `setting` names
 * where the port came from (e.g. --metrics-port), for the error when the port is taken.
 */
export async function serveMetrics(registry: Registry, port: number, setting: string): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err instanceof Error ? err.message : String(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'is already in use' : err.code === 'EACCES' ? 'may not be bound by this user' : `cannot be bound (${err.message})`;
      reject(new Error(`${setting}: port ${port} ${why}`));
    });
    server.listen(port, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    url: `http://localhost:${bound}/metrics`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** The router's metrics on `port`, the SDK's (Core's own exporter) beside them on `port + 1`. */
export interface WorkerMetrics {
  metrics: PrometheusRouterMetrics;
  /** The router's /metrics. */
  url: string;
  /** The Temporal SDK's runtime metrics' /metrics. */
  sdkUrl: string;
  close(): Promise<void>;
}

/**
 * Starts the router's endpoint, then installs the Runtime with the SDK's exporter on the next port (`installRuntime`,
 * which must run before any worker or connection of this process). Either port taken: an error naming `setting`, and
 * nothing left listening.
 */
export async function startWorkerMetrics(port: number, setting: string, installRuntime: (sdkMetrics: SdkMetricsPort) => void): Promise<WorkerMetrics> {
  checkMetricsPort(port, setting);
  const metrics = new PrometheusRouterMetrics();
  const server = await serveMetrics(metrics.registry, port, setting);
  try {
    installRuntime({ port: port + 1, setting });
  } catch (err) {
    await server.close();
    throw err;
  }
  return { metrics, url: server.url, sdkUrl: `http://localhost:${port + 1}/metrics`, close: () => server.close() };
}
