import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { routingMetrics, type RequestOutcome, type RoutingMetrics } from '../analytics/metrics';
import type { Catalog } from '../domain/catalog';
import { RouteRequestSchema, type RouteRequest } from '../domain/request';
import type { DecisionLog } from '../domain/results';
import { promptChars, type SimulatedProvider } from '../providers/simulated';
import { bestModel, escalationLadder } from '../routing/ladder';
import { PROJECT_ROOT } from '../servers/binaries';
import { freePort } from '../servers/localServer';
import { DEMO_REQUESTS } from './demoRequests';
import { openSession, untilInterrupted } from './session';
import { formatTable, percent, usd } from '../analytics/table';

export interface DemoReport {
  requests: number;
  /** Every answer in the demo comes from the simulated provider; the report says so. */
  provider: 'simulated';
  metrics: Pick<RoutingMetrics, 'routingAccuracy' | 'costSavings' | 'qualityRetention' | 'escalationRate'>;
  decisions: DecisionLog[];
}

/**
 * Ground truth for the seed's metrics. The simulator is deterministic per request, so asking it what each catalog
 * model would have answered gives the labels (cheapest passing tier) and the always-best counterfactual.
 */
export function demoOutcome(log: DecisionLog, request: RouteRequest, catalog: Catalog, simulator: SimulatedProvider): RequestOutcome {
  const ladder = escalationLadder(catalog.models);
  const chars = promptChars(request.prompt, request.history);
  const spec = (model: string) => catalog.models.find((m) => m.id === model)!;
  const outcome = (model: string) => simulator.preview(request.requestId, spec(model), request.taskType, request.domain, chars, request.outputSchema);
  const best = bestModel(ladder);
  const tierOf = (model: string) => ladder.find((r) => r.id === model)!.tier;
  const passingTiers = ladder.filter((r) => outcome(r.id).passes).map((r) => r.tier);
  return {
    firstTier: tierOf(log.selectedModel),
    firstPassed: outcome(log.selectedModel).passes,
    cheapestPassingTier: passingTiers.length > 0 ? Math.min(...passingTiers) : undefined,
    escalated: log.wasEscalated,
    costUsd: log.costUsd,
    quality: outcome(log.finalModel).quality,
    bestCostUsd: outcome(best.id).costUsd!,
    bestQuality: outcome(best.id).quality,
  };
}

function printTable(decisions: DecisionLog[], metrics: RoutingMetrics): void {
  const rows = decisions.map((d) => [
    d.requestId,
    d.requestFeatures.taskType,
    d.requestFeatures.domain,
    d.decision.ruleId ?? d.strategy,
    d.selectedModel,
    d.finalModel,
    `${d.passed ? 'pass' : 'FAIL'} ${d.qualityScore.toFixed(2)}`,
    d.wasEscalated ? `yes (${d.escalations})` : 'no',
    usd(d.costUsd),
  ]);
  console.log(formatTable(['request', 'task', 'domain', 'rule', 'routed to', 'final model', 'verdict', 'escalated', 'cost'], rows));
  console.log('');
  console.log(`Answers come from the SIMULATED provider (profiles fitted to recorded outcomes; see src/providers/simulated/profiles.ts).`);
  console.log(
    formatTable(
      ['metric', 'value', 'seed target'],
      [
        ['routing accuracy', percent(metrics.routingAccuracy), '> 90 %'],
        ['cost savings vs always-best', percent(metrics.costSavings), '> 50 %'],
        ['quality retention vs always-best', percent(metrics.qualityRetention), '> 98 %'],
        ['escalation rate', percent(metrics.escalationRate), '< 25 %'],
      ],
    ),
  );
  console.log(`total cost ${usd(metrics.costUsd)} vs always-best ${usd(metrics.bestCostUsd)} for ${metrics.requests} requests`);
}

/** The README's main job: the built-in batch through real workflows on an embedded dev server. */
export async function runDemo(options: { json: boolean; uiPort?: number }): Promise<void> {
  const requests = DEMO_REQUESTS.map((r) => RouteRequestSchema.parse(r));
  const decisionLogPath = join(PROJECT_ROOT, '.model-router', 'demo-decision-log.db');
  rmSync(decisionLogPath, { force: true });
  const env = { ...process.env };
  delete env.MODEL_ROUTER_PROVIDER; // the demo's ground truth only exists for the simulated provider
  const session = await openSession({ embedded: { uiPort: options.uiPort ?? (await freePort()) }, decisionLogPath, env });
  try {
    if (!options.json) console.log(`Temporal dev server ${session.address}; Web UI ${session.uiUrl}\nRouting ${requests.length} requests...\n`);
    const decisions = await session.worker.runUntil(async () => {
      const handles = await Promise.all(requests.map((r) => session.router.startRoute(r)));
      return Promise.all(handles.map((h) => h.result()));
    });
    const { catalog } = session.wiring.deps;
    const metrics = routingMetrics(decisions.map((d, i) => demoOutcome(d, requests[i]!, catalog, session.wiring.simulated)));
    if (options.json) {
      const { routingAccuracy, costSavings, qualityRetention, escalationRate } = metrics;
      const report: DemoReport = {
        requests: decisions.length,
        provider: 'simulated',
        metrics: { routingAccuracy, costSavings, qualityRetention, escalationRate },
        decisions,
      };
      console.log(JSON.stringify(report, null, 2));
      return;
    }
    printTable(decisions, metrics);
    console.log(`\nDecision log: ${decisionLogPath} (${session.wiring.store.count()} rows)`);
    console.log(`Inspect the runs in the Temporal Web UI: ${session.uiUrl}  (Ctrl-C to stop)`);
    await untilInterrupted();
  } finally {
    await session.close();
  }
}
