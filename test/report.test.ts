import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DecisionLogStore } from '../src/analytics/decisionLogStore';
import { buildReport } from '../src/analytics/report/compute';
import type { ReportAttempt, ReportRequest } from '../src/analytics/report/model';
import { parseInstant } from '../src/analytics/report/window';
import type { DecisionLog, ShadowSample } from '../src/domain/results';
import { freePort } from '../src/servers/localServer';
import { runCli } from './helpers/cli';
import { decisionLogFor } from './helpers/decisionLogs';

const attempt = (model: string, cause: string, costUsd: number, passed: boolean | null, status = 'completed'): ReportAttempt => ({ model, cause, status, costUsd, passed, score: passed === null ? null : passed ? 0.9 : 0.3 });

function request(id: string, over: Partial<ReportRequest>): ReportRequest {
  return {
    requestId: id,
    workflowId: `route-${id}`,
    timestamp: '2026-12-01T10:00:00.000Z',
    tenant: 'acme',
    policyId: 'default',
    strategy: 'rules',
    selectedModel: 'small',
    finalModel: 'small',
    bestModel: 'large',
    propensity: 1,
    passed: true,
    escalated: false,
    raced: false,
    costUsd: 0.001,
    costSavedUsd: 0.009,
    judgeCostUsd: 0,
    latencyMs: 100,
    origin: 'simulated',
    attempts: [attempt('small', 'routed', 0.001, true)],
    ...over,
  };
}

/**
 * Four requests, worked by hand below:
 * r1 rules  small passed                       cost .001 saved .009  100 ms  day 1
 * r2 rules  small failed → large passed        cost .012 saved -.002 900 ms  day 1  (escalated, judge .001)
 * r3 bandit medium passed, propensity .25      cost .004 saved .006  300 ms  day 2
 * r4 bandit large passed, raced beside small (cancelled, cost .0005), cost .0105 saved -.0005 500 ms day 2
 */
const REQUESTS: ReportRequest[] = [
  request('r1', {}),
  request('r2', {
    finalModel: 'large',
    escalated: true,
    costUsd: 0.012,
    costSavedUsd: -0.002,
    judgeCostUsd: 0.001,
    latencyMs: 900,
    attempts: [attempt('small', 'routed', 0.001, false), attempt('large', 'escalation', 0.01, true)],
  }),
  request('r3', { strategy: 'bandit', selectedModel: 'medium', finalModel: 'medium', propensity: 0.25, costUsd: 0.004, costSavedUsd: 0.006, latencyMs: 300, timestamp: '2026-12-02T10:00:00.000Z', attempts: [attempt('medium', 'routed', 0.004, true)] }),
  request('r4', {
    strategy: 'bandit',
    selectedModel: 'large',
    finalModel: 'large',
    propensity: 0.75,
    raced: true,
    costUsd: 0.0105,
    costSavedUsd: -0.0005,
    latencyMs: 500,
    timestamp: '2026-12-02T11:00:00.000Z',
    attempts: [attempt('large', 'routed', 0.01, true), attempt('small', 'speculative', 0.0005, null, 'cancelled')],
  }),
];

const shadow = (requestId: string, strategy: string, routedModel: string, routedScore: number, bestScore: number): ShadowSample => ({
  requestId,
  workflowId: `shadow-route-${requestId}`,
  timestamp: '2026-12-02T12:00:00.000Z',
  tenant: 'acme',
  policyId: 'default',
  strategy,
  routedModel,
  bestModel: 'large',
  judgeModel: 'judge',
  routedScore,
  bestScore,
  routedShownFirst: true,
  costUsd: 0.02,
  origin: 'simulated',
});

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} ≠ ${expected}`);

describe('routing report figures on a hand-made log', () => {
  // r1's shadow: the best model scored higher, so r1's first choice was not adequate after all.
  const shadows = [shadow('r1', 'rules', 'small', 0.6, 0.8), shadow('r3', 'bandit', 'medium', 0.9, 0.9), shadow('outside-window', 'rules', 'small', 0, 1)];
  const report = buildReport(REQUESTS, shadows, { groupBy: 'strategy', filter: {}, webUi: { base: 'http://localhost:8233/', namespace: 'default' }, now: new Date('2026-12-03T00:00:00Z') });

  it('totals: cost, always-best, savings, cost per 1k, judge cost, pass and escalation rates, mix, latency', () => {
    const t = report.totals;
    assert.equal(t.requests, 4);
    close(t.costUsd, 0.001 + 0.012 + 0.004 + 0.0105, 'cost');
    close(t.costSavedUsd, 0.009 - 0.002 + 0.006 - 0.0005, 'saved');
    close(t.alwaysBestCostUsd, 0.0275 + 0.0125, 'always-best');
    close(t.savingsShare, 0.0125 / 0.04, 'savings share');
    close(t.costPer1kUsd, (0.0275 / 4) * 1000, 'cost per 1k');
    close(t.judgeCostUsd, 0.001, 'judge cost');
    assert.equal(t.passRate, 1);
    assert.equal(t.escalationRate, 0.25);
    assert.deepEqual(t.modelMix, { large: 0.5, medium: 0.25, small: 0.25 });
    // Nearest rank on [100, 300, 500, 900]: p50 → index 2, p95 and p99 → index 3.
    assert.deepEqual(t.latencyMs, { p50: 500, p95: 900, p99: 900 });
  });

  it('routing accuracy: gate verdicts on first choices, corrected by shadow samples', () => {
    // Labelled: all four first choices were judged (r4's routed call too; its cancelled partner is no label).
    // Under-routed: r2 (failed the gate) and r1 (the shadow judge preferred the best model's answer).
    assert.deepEqual(report.totals.routingAccuracy, { share: 0.5, labelled: 4, underRouted: 2 });
  });

  it('quality retention from the shadow samples of the window only, and their cost apart', () => {
    const r = report.totals.qualityRetention!;
    assert.equal(r.samples, 2);
    close(r.estimate, (0.6 + 0.9) / (0.8 + 0.9), 'retention');
    assert.ok(r.low <= r.estimate && r.estimate <= r.high);
    close(report.totals.shadowCostUsd, 0.04, 'shadow cost');
    close(report.totals.costUsd, 0.0275, 'routed cost excludes shadow cost');
  });

  it('groups by strategy, with speculative and bandit figures where they apply', () => {
    assert.deepEqual(report.groups.map((g) => [g.key, g.requests]), [['bandit', 2], ['rules', 2]]);
    const [bandit, rules] = report.groups;
    assert.deepEqual(bandit!.speculative, { raced: 1, racedShare: 0.5, partnerCancelled: 1, cancelledCostUsd: 0.0005 });
    assert.deepEqual(bandit!.bandit, { requests: 2, meanPropensity: 0.5, exploredShare: 0.5 });
    assert.equal(rules!.speculative, null);
    assert.equal(rules!.bandit, null);
    close(rules!.savingsShare, (0.009 - 0.002) / (0.013 + 0.007), 'rules savings');
    assert.equal(bandit!.qualityRetention!.estimate, 1);
  });

  it('groups by tenant, policy, model and day', () => {
    const by = (groupBy: 'tenant' | 'policy' | 'model' | 'day') => buildReport(REQUESTS, [], { groupBy, filter: {} }).groups.map((g) => [g.key, g.requests]);
    assert.deepEqual(by('tenant'), [['acme', 4]]);
    assert.deepEqual(by('policy'), [['default', 4]]);
    assert.deepEqual(by('model'), [['large', 2], ['medium', 1], ['small', 1]]);
    assert.deepEqual(by('day'), [['2026-12-01', 2], ['2026-12-02', 2]]);
  });

  it('timeline by day, histogram buckets, cost-quality points and the most expensive requests', () => {
    assert.deepEqual(report.timeline.map((p) => [p.bucket, p.requests, p.escalationRate]), [['2026-12-01', 2, 0.5], ['2026-12-02', 2, 0]]);
    // Within one hour the points are minutes.
    const sameHour = [request('m1', { timestamp: '2026-12-01T10:01:30.000Z' }), request('m2', { timestamp: '2026-12-01T10:07:00.000Z' })];
    assert.deepEqual(buildReport(sameHour, [], { groupBy: 'strategy', filter: {} }).timeline.map((p) => p.bucket), ['2026-12-01T10:01', '2026-12-01T10:07']);
    close(report.timeline[1]!.savingsShare, (0.006 - 0.0005) / (0.0145 + 0.0055), 'day 2 savings');
    // Doubling from 125 ms to the slowest (900): 125, 250, 500, 1000.
    assert.deepEqual(report.latencyHistogram, { boundsMs: [125, 250, 500, 1000], counts: [1, 0, 2, 1] });
    const points = Object.fromEntries(report.costQuality.map((p) => [p.label, p]));
    close(points.rules!.costPer1kUsd, (0.013 / 2) * 1000, 'rules cost/1k');
    close(points['always-best']!.costPer1kUsd, (0.04 / 4) * 1000, 'always-best cost/1k');
    // The observed oracle: the cheapest passing call of each request: .001, .01, .004, .01.
    close(points['oracle (observed)']!.costPer1kUsd, (0.025 / 4) * 1000, 'oracle cost/1k');
    close(points['oracle (observed)']!.qualityRetention!, (0.8 + 0.9) / (0.8 + 0.9), 'oracle retention');
    assert.deepEqual(report.expensive.map((e) => e.requestId), ['r2', 'r4', 'r3', 'r1']);
    assert.equal(report.expensive[0]!.webUiUrl, 'http://localhost:8233/namespaces/default/workflows/route-r2');
  });

  it('an empty window is a report of zeros with nothing to divide by', () => {
    const empty = buildReport([], [], { groupBy: 'strategy', filter: {} });
    assert.equal(empty.totals.requests, 0);
    assert.equal(empty.totals.savingsShare, 0);
    assert.equal(empty.totals.routingAccuracy, null);
    assert.equal(empty.totals.qualityRetention, null);
    assert.deepEqual([empty.groups, empty.timeline, empty.costQuality], [[], [], []]);
  });

  it('reads --since and --until as ISO dates, times or durations back from now, and refuses anything else naming the flag', () => {
    const now = new Date('2026-12-02T12:00:00.000Z');
    assert.equal(parseInstant('2026-12-01', '--since', now), '2026-12-01T00:00:00.000Z');
    assert.equal(parseInstant('2026-12-01T09:30', '--since', now), '2026-12-01T09:30:00.000Z');
    assert.equal(parseInstant('2026-12-01T09:30:00+02:00', '--since', now), '2026-12-01T07:30:00.000Z');
    assert.equal(parseInstant('24h', '--since', now), '2026-12-01T12:00:00.000Z');
    assert.equal(parseInstant('7d', '--since', now), '2026-11-25T12:00:00.000Z');
    for (const bad of ['yesterday', '2026-13-01', '12/01/2026', '-1d', '']) assert.throws(() => parseInstant(bad, '--since', now), /--since: must be an ISO-8601 date or time .* got "/);
  });
});

function logOf(id: string, timestamp: string, costUsd: number, escalated: boolean): DecisionLog {
  const verdict = { passed: !escalated, score: 0.9, threshold: 0.7, evaluator: 'sim', reasons: [], costUsd: 0 };
  return decisionLogFor(id, {
    timestamp,
    finalModel: escalated ? 'large' : 'small',
    qualityScore: 0.9,
    costUsd,
    costSavedUsd: 0.01 - costUsd,
    wasEscalated: escalated,
    escalations: escalated ? 1 : 0,
    attempts: [{ model: 'small', cause: 'routed', inputTokens: 10, outputTokens: 10, costUsd, latencyMs: 200, origin: 'simulated', verdict }],
    origin: 'simulated',
  });
}

describe('model-router report (built CLI on a SQLite decision log)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'router-report-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('an empty store and an empty window say so; --json is one object; --html writes the page', async () => {
    const db = join(dir, 'log.sqlite');
    await (await DecisionLogStore.open(db)).close();
    const empty = await runCli(['report', '--db', db]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stdout, /^The decision log .*log\.sqlite has no requests yet\.$/m);

    const store = await DecisionLogStore.open(db);
    await store.record(logOf('a', '2026-12-01T10:00:00.000Z', 0.002, false));
    await store.record(logOf('b', '2026-12-02T10:00:00.000Z', 0.004, true));
    await store.close();
    const window = await runCli(['report', '--db', db, '--since', '2026-12-05']);
    assert.match(window.stdout, /^No requests in this window \(the decision log .* has 2 in all\)\.$/m);

    const html = join(dir, 'report.html');
    const json = await runCli(['report', '--db', db, '--json', '--group-by', 'day', '--html', html, '--web-ui', 'http://127.0.0.1:8233']);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as { storedRequests: number; totals: { requests: number; costUsd: number; escalationRate: number }; groups: { key: string }[]; expensive: { webUiUrl: string }[] };
    assert.equal(report.storedRequests, 2);
    assert.equal(report.totals.requests, 2);
    close(report.totals.costUsd, 0.006, 'cost');
    assert.equal(report.totals.escalationRate, 0.5);
    assert.deepEqual(report.groups.map((g) => g.key), ['2026-12-01', '2026-12-02']);
    assert.equal(report.expensive[0]!.webUiUrl, 'http://127.0.0.1:8233/namespaces/default/workflows/route-b');
    assert.match(readFileSync(html, 'utf8'), /^<!doctype html>/i);

    const text = await runCli(['report', '--db', db, '--until', '2026-12-02']);
    assert.match(text.stdout, /^all\s+1\s/m);
  });

  it('bad flags, a bad URL and an unreachable database are clear errors naming what is wrong', async () => {
    const cases: [string[], RegExp][] = [
      [['--since', 'yesterday'], /--since: must be an ISO-8601 date or time .* got "yesterday"/],
      [['--since', '2026-12-02', '--until', '2026-12-01'], /--until: must be after --since \(2026-12-02T00:00:00\.000Z\)/],
      [['--group-by', 'colour'], /--group-by: must be one of strategy, policy, tenant, model, day, got "colour"/],
      [['--db', 'mysql://db.example/router'], /--db: "mysql:" is not supported: give a SQLite file path or a postgres:\/\/ URL/],
      [['--db', join(dir, 'missing.sqlite')], /--db: no decision log at .*missing\.sqlite/],
      [['--web-ui', 'localhost:8233'], /--web-ui: must be an http\(s\) URL/],
    ];
    for (const [args, expected] of cases) {
      const run = await runCli(['report', ...args]);
      assert.notEqual(run.code, 0, args.join(' '));
      assert.match(run.stderr, expected);
    }
    const port = await freePort();
    const unreachable = await runCli(['report', '--db', `postgres://router:hunter2@127.0.0.1:${port}/router`]);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, new RegExp(`decision log postgres://router:\\*\\*\\*@127\\.0\\.0\\.1:${port}/router is unreachable`));
    assert.doesNotMatch(unreachable.stderr, /hunter2/);
  });
});
