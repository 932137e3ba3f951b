import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RoutingMetrics } from '../analytics/metrics';
import { renderReportHtml } from '../analytics/report/html';
import { loadReport } from '../analytics/report/load';
import { formatTable, percent, usd } from '../analytics/table';
import { runDemoJob, type LearningStream } from '../demo/run';
import type { DecisionLog } from '../domain/results';
import { PROJECT_ROOT } from '../servers/binaries';
import { freePort } from '../servers/localServer';
import { openSession, type RouterSession } from '../worker/session';
import { callGateway, type GatewayDemo } from '../demo/gateway';
import { startLocalGateway, type LocalGateway } from '../gateway/local';
import { printGateway } from './gatewayBanner';
import { untilInterrupted } from './signals';

type SeedMetrics = Pick<RoutingMetrics, 'routingAccuracy' | 'costSavings' | 'qualityRetention' | 'escalationRate'> & { costPer1k: number };

export interface DemoReport {
  requests: number;
  /** Every answer in the demo comes from the simulated provider; the report says so. */
  provider: 'simulated';
  metrics: Pick<RoutingMetrics, 'routingAccuracy' | 'costSavings' | 'qualityRetention' | 'escalationRate'>;
  decisions: DecisionLog[];
  /** The stream that shows the bandit learning, beside the rules on an equal stream. */
  learning: { requests: number; provider: 'simulated'; rules: SeedMetrics; bandit: SeedMetrics; banditChoicesByQuarter: Record<string, number>[] };
  /** The routing report over the whole run, as an HTML page with charts. */
  reportHtml: string;
  /** A few requests through the gateway, as an OpenAI SDK sends them. */
  gateway: GatewayDemo;
}

const seedMetrics = (m: RoutingMetrics): SeedMetrics => ({
  routingAccuracy: m.routingAccuracy,
  costSavings: m.costSavings,
  qualityRetention: m.qualityRetention,
  escalationRate: m.escalationRate,
  costPer1k: (m.costUsd / m.requests) * 1000,
});

/** Rounds of the demo batch in the learning stream (52 requests each). */
const STREAM_ROUNDS = 5;

function printLearning(learning: LearningStream): void {
  console.log(`\nLearning: ${learning.requests} more SIMULATED requests (the demo batch ${STREAM_ROUNDS} times, fresh draws) through the bandit policy,`);
  console.log('each outcome signalled to its banditState workflow as it lands; the same stream through the rules for comparison.');
  const row = (name: string, m: RoutingMetrics) => {
    const s = seedMetrics(m);
    return [name, percent(s.routingAccuracy), percent(s.costSavings), percent(s.qualityRetention), percent(s.escalationRate), `$${s.costPer1k.toFixed(4)}`];
  };
  console.log(formatTable(['policy', 'routing accuracy', 'cost savings', 'quality retention', 'escalation rate', 'cost / 1k'], [row('rules (default)', learning.rules), row('bandit', learning.bandit)]));
  console.log('the bandit\'s first choices, by quarter of its stream:');
  learning.banditChoicesByQuarter.forEach((q, i) => console.log(`  Q${i + 1}: ${Object.entries(q).sort((a, b) => b[1] - a[1]).map(([m, v]) => `${m} ${percent(v)}`).join(', ')}`));
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
  const possiblyBilled = decisions.reduce((sum, d) => sum + d.possiblyBilledUsd, 0);
  const calls = decisions.reduce((n, d) => n + d.possiblyBilledCalls, 0);
  console.log(`possibly billed on top (calls repeated after faults, estimated; simulated models bill none): ${usd(possiblyBilled)} in ${calls} calls`);
}

/** The routing report over everything the demo routed, as one HTML page beside its decision log. */
async function writeDemoReport(decisionLogPath: string, uiUrl: string | undefined): Promise<string> {
  const path = join(dirname(decisionLogPath), 'demo-report.html');
  const { report } = await loadReport(decisionLogPath, 'demo decision log', { groupBy: 'strategy', filter: {}, ...(uiUrl && { webUi: { base: uiUrl, namespace: 'default' } }) });
  writeFileSync(path, renderReportHtml(report, { title: 'Routing report — model-router demo (simulated provider)' }));
  return path;
}

/** The README's main job: the built-in batch through real workflows on an embedded dev server. */
export async function runDemo(options: { json: boolean; uiPort?: number }): Promise<void> {
  const decisionLogPath = join(PROJECT_ROOT, '.model-router', 'demo-decision-log.db');
  rmSync(decisionLogPath, { force: true });
  const env = { ...process.env };
  delete env.MODEL_ROUTER_PROVIDER; // the demo's ground truth only exists for the simulated provider
  const session = await openSession({ embedded: { uiPort: options.uiPort ?? (await freePort()) }, decisionLogPath, env });
  try {
    // The development tenant alone: a project's tenants file is for `dev` and `serve`.
    const gateway = await startLocalGateway(session, { port: 0, setting: 'demo gateway' });
    try {
      await session.worker.runUntil(() => demo(session, gateway, decisionLogPath, options.json));
    } finally {
      await gateway.close();
    }
  } finally {
    await session.close();
  }
}

async function demo(session: RouterSession, gateway: LocalGateway, decisionLogPath: string, json: boolean): Promise<void> {
  if (!json) console.log(`Temporal dev server ${session.address}; Web UI ${session.uiUrl}\nRouting the demo batch...\n`);
  const { batch, learning } = await runDemoJob(session, { rounds: STREAM_ROUNDS, concurrency: 6 });
  const { decisions, metrics } = batch;
  if (!json) printTable(decisions, metrics);
  const cheapest = [...session.wiring.deps.catalog.models].sort((a, b) => a.tier - b.tier)[0]!.id;
  const throughGateway = await callGateway(gateway, cheapest, (tenant) => session.router.getBudget(tenant));
  const reportPath = await writeDemoReport(decisionLogPath, session.uiUrl);
  if (json) {
    const { routingAccuracy, costSavings, qualityRetention, escalationRate } = metrics;
    const report: DemoReport = {
      requests: decisions.length,
      provider: 'simulated',
      metrics: { routingAccuracy, costSavings, qualityRetention, escalationRate },
      decisions,
      learning: { requests: learning.requests, provider: 'simulated', rules: seedMetrics(learning.rules), bandit: seedMetrics(learning.bandit), banditChoicesByQuarter: learning.banditChoicesByQuarter },
      reportHtml: reportPath,
      gateway: throughGateway,
    };
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  printLearning(learning);
  printGatewayCalls(throughGateway);
  console.log(`\nDecision log: ${decisionLogPath} (${await session.wiring.store.count()} rows)`);
  console.log(`Routing report (open in a browser; \`model-router report --db ${decisionLogPath}\` prints it): ${reportPath}`);
  console.log(`Inspect the runs in the Temporal Web UI: ${session.uiUrl}`);
  printGateway(gateway);
  console.log('Point an OpenAI SDK at that base URL with that key; Ctrl-C to stop.');
  await untilInterrupted();
}

function printGatewayCalls(demo: GatewayDemo): void {
  console.log(`\nThrough the OpenAI-compatible gateway (${demo.baseUrl}, tenant "${demo.tenant}", SIMULATED provider):`);
  const rows = demo.calls.map((c) => [c.model, c.idempotencyKey, String(c.status), c.answeredBy ?? '-', c.escalated ? 'yes' : 'no', c.costUsd === undefined ? '-' : usd(c.costUsd), c.error ?? c.decision ?? '']);
  console.log(formatTable(['model asked', 'Idempotency-Key', 'HTTP', 'answered by', 'escalated', 'cost', 'decision'], rows));
  console.log('(the last call repeats the first one\'s Idempotency-Key: the first run\'s answer, no second model call)');
  const { capUsd, spentUsd, reservedUsd } = demo.budget;
  console.log(`tenant budget today: ${usd(spentUsd)} spent of ${capUsd === null ? 'no cap' : usd(capUsd)}, ${usd(reservedUsd)} still reserved`);
}
