import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import defaultPolicyJson from '../config/default-policy.json';
import { RulesPolicySchema } from '../src/routing/strategies/rules';
import { unitHash } from '../src/routing/hash';
import { escalationPlan } from '../src/routing/plan';
import { assignFolds } from '../src/routing/folds';
import {
  aiq,
  apgr,
  baselineRouters,
  blindMixingFrontier,
  blindMixingQualityAt,
  buildEvalCatalog,
  buildEvalDataset,
  cpt,
  evaluationFolds,
  evaluateStrategy,
  hullQualityAt,
  loadEvalDataset,
  nonDecreasingConvexHull,
  oracleRouter,
  renderReport,
  runBaselines,
  runRequest,
  runStrategy,
  sanitizeRequestId,
  singleModelPoints,
  singleModelRouter,
  sweep,
  type EvalRow,
  type GateSimulation,
} from '../src/analytics/offline';
import type { OutcomeRow } from '../src/providers/replay';

/*
 * A hand-written 3-model toy: a (cheap, tier 1), b (tier 2), c (the best, tier 3). Recorded costs are round
 * numbers so every metric below can be checked by hand. Threshold 0.95, qualities 0/1.
 *   r1: a=1 b=1 c=1   cheapest passing tier 1
 *   r2: a=0 b=1 c=1   tier 2
 *   r3: a=0 b=0 c=1   tier 3
 *   r4: a=0 b=0 c=0   nobody passes
 *   r5: a=1 b=0 c=0   tier 1 (the best model fails)
 */
const PRICES = [
  { id: 'a', inputUsdPer1M: 1, outputUsdPer1M: 1 },
  { id: 'b', inputUsdPer1M: 2, outputUsdPer1M: 2 },
  { id: 'c', inputUsdPer1M: 10, outputUsdPer1M: 10 },
];
const COST: Record<string, number> = { a: 1, b: 2, c: 10 };

function toyRow(id: string, q: Record<string, number>, extra: Partial<OutcomeRow> = {}): OutcomeRow {
  const outcomes: OutcomeRow['outcomes'] = {};
  for (const [m, quality] of Object.entries(q)) outcomes[m] = { quality, costUsd: COST[m]!, outputChars: 1 };
  return { id, source: 'toy', task: 'arc-challenge', category: null, prompt: `question ${id}`, history: [], outcomes, ...extra };
}

const toy = buildEvalDataset(
  [
    toyRow('r1', { a: 1, b: 1, c: 1 }),
    toyRow('r2', { a: 0, b: 1, c: 1 }),
    toyRow('r3', { a: 0, b: 0, c: 1 }),
    toyRow('r4', { a: 0, b: 0, c: 0 }),
    toyRow('r5', { a: 1, b: 0, c: 0 }),
  ],
  PRICES,
);
const row = (id: string) => toy.rows.find((r) => r.rowId === id)!;
const plan = escalationPlan(toy.catalog, { gateThreshold: 0.95, maxEscalations: 1 });
const gateOn = (over: Partial<GateSimulation> = {}): GateSimulation => ({ enabled: true, judgeError: 0, judgeCostRatio: 0.1, seed: 1, ...over });
const close = (actual: number | null, expected: number, eps = 1e-9) =>
  assert.ok(actual !== null && Math.abs(actual - expected) < eps, `expected ${expected}, got ${actual}`);

describe('offline evaluation: toy catalog', () => {
  it('ranks tiers by blended price and names them by price-rank tercile', () => {
    assert.deepEqual(
      toy.catalog.map((m) => [m.id, m.tier, m.tierName, m.provider]),
      [
        ['a', 1, 'small', 'replay'],
        ['b', 2, 'medium', 'replay'],
        ['c', 3, 'large', 'replay'],
      ],
    );
    assert.equal(plan.bestModel, 'c');
    // Equal prices share a tier; with two models the pricier is large.
    const shared = buildEvalCatalog(['x', 'y', 'z'], [
      { id: 'x', inputUsdPer1M: 1, outputUsdPer1M: 1 },
      { id: 'y', inputUsdPer1M: 1, outputUsdPer1M: 1 },
      { id: 'z', inputUsdPer1M: 5, outputUsdPer1M: 5 },
    ]);
    assert.deepEqual(shared.map((m) => [m.id, m.tier, m.tierName]), [['x', 1, 'small'], ['y', 1, 'small'], ['z', 2, 'large']]);
    const pair = buildEvalCatalog(['strong', 'weak'], [
      { id: 'strong', inputUsdPer1M: 10, outputUsdPer1M: 30 },
      { id: 'weak', inputUsdPer1M: 0.6, outputUsdPer1M: 0.6 },
    ]);
    assert.deepEqual(pair.map((m) => [m.id, m.tier, m.tierName]), [['weak', 1, 'small'], ['strong', 2, 'large']]);
  });
});

describe('offline evaluation: simulate (gate + the shared escalation policy)', () => {
  it('climbs a → b → best fallback c with maxEscalations 1, each judgement costing 0.1 × the cheapest call', () => {
    const r1 = runRequest(row('r1'), 'a', plan, gateOn());
    assert.deepEqual(r1.attempts.map((a) => a.model), ['a']);
    close(r1.costUsd, 1.1);
    assert.equal(r1.escalated, false);

    const r2 = runRequest(row('r2'), 'a', plan, gateOn());
    assert.deepEqual(r2.attempts.map((a) => [a.model, a.cause]), [['a', 'routed'], ['b', 'escalation']]);
    assert.equal(r2.finalModel, 'b');
    close(r2.costUsd, 1 + 2 + 0.2);

    const r3 = runRequest(row('r3'), 'a', plan, gateOn());
    assert.deepEqual(r3.attempts.map((a) => [a.model, a.cause]), [['a', 'routed'], ['b', 'escalation'], ['c', 'best-fallback']]);
    assert.equal(r3.quality, 1);
    close(r3.costUsd, 13.3);
    close(r3.judgeCostUsd, 0.3);

    const r4 = runRequest(row('r4'), 'a', plan, gateOn());
    assert.equal(r4.finalModel, 'c', 'no passing verdict: the last model is kept');
    assert.equal(r4.quality, 0);
  });

  it('a forced flip (judge error 1) inverts every verdict', () => {
    const r1 = runRequest(row('r1'), 'a', plan, gateOn({ judgeError: 1 }));
    assert.deepEqual(r1.attempts.map((a) => a.model), ['a', 'b', 'c'], 'true passes judged failures: climbs to the best');
    assert.ok(r1.attempts.every((a) => a.flipped && a.verdict?.passed === false));
    assert.equal(r1.finalModel, 'c');
    close(r1.costUsd, 13.3);
    const r4 = runRequest(row('r4'), 'a', plan, gateOn({ judgeError: 1 }));
    assert.deepEqual(r4.attempts.map((a) => a.model), ['a'], 'a wrong answer judged a pass is kept');
    assert.equal(r4.quality, 0);
    close(r4.costUsd, 1.1);
  });

  it('without the gate: the first choice alone, no judge cost, no escalation', () => {
    const r = runRequest(row('r3'), 'a', plan, { enabled: false, judgeError: 0.5, seed: 0 });
    assert.deepEqual(r.attempts.map((a) => a.model), ['a']);
    assert.equal(r.costUsd, 1);
    assert.equal(r.judgeCostUsd, 0);
    assert.equal(r.escalated, false);
    assert.equal(r.attempts[0]!.verdict, undefined);
  });

  it('a fixed judge cost overrides the ratio', () => {
    close(runRequest(row('r2'), 'a', plan, gateOn({ judgeCostUsd: 0.5 })).costUsd, 1 + 2 + 1);
  });
});

describe('offline evaluation: the seed metrics on the toy', () => {
  const catalog = toy.catalog;
  it('always-a with the gate: accuracy, savings, retention, escalation, cost per 1k', () => {
    const { summary } = runStrategy(toy.rows, singleModelRouter('a'), { catalog, threshold: 0.95, maxEscalations: 1, gate: gateOn() });
    // Labelled r1 r2 r3 r5; a is the cheapest passing tier on r1 and r5.
    close(summary.routingAccuracy, 2 / 4);
    // a is the cheapest tier: it cannot over-route; it fails r2 and r3.
    close(summary.underRouting, 2 / 4);
    close(summary.overRouting, 0);
    assert.equal(summary.labelledRequests, 4);
    // Costs 1.1 + 3.2 + 13.3 + 13.3 + 1.1 = 32 vs always-c 50.
    close(summary.costSavings, 1 - 32 / 50);
    // Kept qualities 1+1+1+0+1 = 4 vs c's 1+1+1+0+0 = 3.
    close(summary.qualityRetention, 4 / 3);
    close(summary.escalationRate, 3 / 5);
    close(summary.costPer1k, (32 / 5) * 1000);
    close(summary.strongCallShare, 2 / 5);
  });

  it('oracle, best and cheapest baselines without the gate', () => {
    const runs = runBaselines(toy.rows, { catalog, gate: { enabled: false } });
    // Oracle picks a, b, c, a (nobody passes: best quality, ties → cheaper), a.
    assert.deepEqual(toy.rows.map((r) => oracleRouter(0.95)(r).model), ['a', 'b', 'c', 'a', 'a']);
    close(runs.oracle!.routingAccuracy, 1);
    close(runs.oracle!.underRouting + runs.oracle!.overRouting, 0);
    // Always-c passes r1 (a would have), r2 (b would have) and r3 (c is the cheapest), and fails r5.
    close(runs.best!.routingAccuracy, 1 / 4);
    close(runs.best!.overRouting, 2 / 4);
    close(runs.best!.underRouting, 1 / 4);
    close(runs.oracle!.cost, 15 / 5);
    close(runs.oracle!.quality, 4 / 5);
    close(runs.oracle!.costSavings, 1 - 15 / 50);
    close(runs.best!.quality, 3 / 5);
    close(runs.best!.cost, 10);
    close(runs.best!.costSavings, 0);
    close(runs.cheapest!.quality, 2 / 5);
    close(runs.cheapest!.cost, 1);
    assert.deepEqual(Object.keys(runs).sort(), ['a', 'b', 'best', 'c', 'cheapest', 'oracle', 'random'].sort());
  });

  it('blind mixing is the line between consecutive frontier models (b lies under a–c and is dropped)', () => {
    const singles = singleModelPoints(toy.rows, { catalog });
    assert.deepEqual(singles.map((s) => [s.model, s.cost, s.quality]), [['a', 1, 0.4], ['b', 2, 0.4], ['c', 10, 0.6]]);
    const frontier = blindMixingFrontier(singles);
    assert.deepEqual(frontier.map((p) => p.model), ['a', 'c']);
    close(blindMixingQualityAt(frontier, 2), 0.4 + (1 / 9) * 0.2);
    close(blindMixingQualityAt(frontier, 5.5), 0.5);
    assert.equal(blindMixingQualityAt(frontier, 0.5), 0);
    close(blindMixingQualityAt(frontier, 20), 0.6);
  });

  it('the rules strategy runs through the same path (arc-challenge → classification → the small tier)', () => {
    const policy = RulesPolicySchema.parse(defaultPolicyJson);
    const routers = baselineRouters(catalog, { threshold: 0.95, policy });
    assert.equal(routers.rules!(row('r1')).model, 'a');
    const runs = runBaselines(toy.rows, { catalog, policy, gate: { enabled: false }, only: ['rules'] });
    close(runs.rules!.quality, 2 / 5);
  });
});

describe('offline evaluation: curve metrics', () => {
  it('APGR on a toy two-model curve, integrated by hand', () => {
    // weak 0.6, strong 0.8; PGR at shares 0, 0.5, 1 = 0, 0.75, 1 → 0.5·(0+0.75)/2 + 0.5·(0.75+1)/2 = 0.625
    const points = [
      { strongShare: 1, quality: 0.8 },
      { strongShare: 0, quality: 0.6 },
      { strongShare: 0.5, quality: 0.75 },
    ];
    close(apgr(points, 0.6, 0.8), 0.625);
    // The random router's line has APGR 0.5.
    close(apgr([{ strongShare: 0, quality: 0.6 }, { strongShare: 1, quality: 0.8 }], 0.6, 0.8), 0.5);
    assert.equal(apgr(points, 0.7, 0.7), null);
  });

  it('CPT(50 %): the smallest strong-call share reaching PGR 0.5', () => {
    const points = [
      { strongShare: 0, quality: 0.6 },
      { strongShare: 0.5, quality: 0.75 },
      { strongShare: 1, quality: 0.8 },
    ];
    close(cpt(points, 0.6, 0.8, 0.5), (0.5 / 0.75) * 0.5);
    close(cpt(points, 0.6, 0.8, 0.8), 0.5 + (0.05 / 0.25) * 0.5);
    assert.equal(cpt([{ strongShare: 0, quality: 0.6 }], 0.6, 0.8), null);
  });

  it('AIQ: the hull drops a non-convex point, then area ÷ cost range', () => {
    const curve = [
      { cost: 1, quality: 0.5 },
      { cost: 2, quality: 0.6 }, // under the line from (1, 0.5) to (3, 0.9): removed by the hull
      { cost: 3, quality: 0.9 },
      { cost: 4, quality: 0.85 }, // past the peak: the non-decreasing hull stays at 0.9
    ];
    assert.deepEqual(nonDecreasingConvexHull(curve), [curve[0], curve[2]]);
    // ∫ over [1, 4]: (0.5+0.9)/2·2 + 0.9·1 = 2.3 → ÷ 3
    close(aiq(curve), 2.3 / 3);
    // A shared range [0, 4]: nothing is reachable below cost 1.
    close(aiq(curve, [0, 4]), 2.3 / 4);
    close(hullQualityAt(nonDecreasingConvexHull(curve), 2), 0.7);
    assert.equal(aiq([{ cost: 1, quality: 0.5 }]), null);
  });
});

describe('offline evaluation: evaluateStrategy, sweep and cross-validation', () => {
  it('prints exactly the JSON report shape; APGR is null with more than two models', () => {
    const family = (p: number) => (r: EvalRow) => ({ model: unitHash('t', r.rowId) < p ? 'c' : 'a' });
    const report = evaluateStrategy(toy.rows, singleModelRouter('a'), {
      catalog: toy.catalog,
      strategy: 'always-a',
      family,
      params: [0, 0.5, 1],
      gate: { enabled: false },
    });
    assert.deepEqual(Object.keys(report), ['strategy', 'n', 'metrics', 'curve', 'baselines']);
    assert.deepEqual(Object.keys(report.metrics), ['routingAccuracy', 'underRouting', 'overRouting', 'costSavings', 'qualityRetention', 'escalationRate', 'costPer1k', 'apgr', 'aiq']);
    assert.ok(report.curve.every((p) => Object.keys(p).join() === 'param,quality,cost'));
    assert.equal(report.metrics.apgr, null);
    assert.equal(typeof report.metrics.aiq, 'number');
    assert.ok('blind-mixing' in report.baselines && 'oracle' in report.baselines);
    const text = renderReport(report);
    assert.match(text, /strategy always-a on 5 requests/);
    assert.match(text, /APGR: not defined here/);
  });

  it('APGR of a random mix on two-model data is close to 0.5', () => {
    const rows: OutcomeRow[] = [];
    for (let i = 0; i < 400; i++) rows.push(toyRow(`p${i}`, { a: unitHash('qa', i) < 0.5 ? 1 : 0, c: unitHash('qc', i) < 0.8 ? 1 : 0 }));
    const pair = buildEvalDataset(rows, PRICES);
    assert.deepEqual(pair.catalog.map((m) => m.id), ['a', 'c']);
    const family = (p: number) => (r: EvalRow) => ({ model: unitHash('mix', r.rowId) < p ? 'c' : 'a' });
    const params = [0, 0.25, 0.5, 0.75, 1];
    const report = evaluateStrategy(pair.rows, family(0.5), { catalog: pair.catalog, strategy: 'mix', family, params, gate: { enabled: false }, baselines: false });
    assert.ok(report.metrics.apgr !== null && Math.abs(report.metrics.apgr - 0.5) < 0.08, `APGR ${report.metrics.apgr}`);
    const curve = sweep(pair.rows, family, params, { catalog: pair.catalog, gate: { enabled: false } });
    assert.equal(curve[0]!.strongCallShare, 0);
    assert.equal(curve[4]!.strongCallShare, 1);
  });

  it('one fold assignment: balanced, seeded, independent of row order, shared by training and evaluation', () => {
    const keys = Array.from({ length: 23 }, (_, i) => `cv${i}`);
    const { folds, foldOf } = assignFolds(keys, 5, 7);
    assert.equal(folds, 5);
    const sizes = [0, 1, 2, 3, 4].map((f) => foldOf.filter((x) => x === f).length).sort();
    assert.deepEqual(sizes, [4, 4, 5, 5, 5]);
    const reversed = assignFolds([...keys].reverse(), 5, 7).foldOf.reverse();
    assert.deepEqual(reversed, foldOf, 'a key keeps its fold whatever the order');
    assert.notDeepEqual(assignFolds(keys, 5, 8).foldOf, foldOf, 'another seed, other folds');
    const data = buildEvalDataset(keys.map((k) => toyRow(k, { a: 1, b: 1, c: 1 })), PRICES);
    assert.deepEqual(evaluationFolds(data.rows, 5, 7).foldOf, foldOf, 'the evaluator folds by request id');
    assert.throws(() => assignFolds(keys.slice(0, 3), 5, 7), /needs at least 5 examples/);
  });
});

describe('offline evaluation: judge-error determinism', () => {
  const rows: OutcomeRow[] = [];
  for (let i = 0; i < 1000; i++) rows.push(toyRow(`d${i}`, { a: i % 3 === 0 ? 1 : 0, b: i % 2 === 0 ? 1 : 0, c: 1 }));
  const data = buildEvalDataset(rows, PRICES);
  const run = (seed: number) => data.rows.map((r) => runRequest(r, 'a', plan, gateOn({ judgeError: 0.2, seed })));
  it('same seed → same flips and results; another seed → different flips; the rate matches judgeError', () => {
    const one = run(1);
    assert.deepEqual(run(1), one);
    const flips = (sims: ReturnType<typeof run>) => sims.flatMap((s) => s.attempts.map((a) => a.flipped));
    const other = run(2);
    const differing = flips(one).filter((f, i) => f !== flips(other)[i]).length;
    assert.ok(differing > 50, `only ${differing} differing verdicts`);
    const rate = flips(one).filter(Boolean).length / flips(one).length;
    assert.ok(Math.abs(rate - 0.2) < 0.04, `flip rate ${rate}`);
  });
});

describe('offline evaluation: dataset loading', () => {
  const dir = mkdtempSync(join(tmpdir(), 'offline-eval-'));
  writeFileSync(join(dir, 'models.json'), JSON.stringify(PRICES));
  const line = (r: Partial<OutcomeRow> & { id: string; task: string }) =>
    JSON.stringify({ source: 'toy', category: null, prompt: 'x'.repeat(40), history: [], outcomes: { a: { quality: 1, costUsd: null, outputChars: null }, c: { quality: 0, costUsd: 0.5, outputChars: 8 } }, ...r });

  it('maps tasks and MMLU domains, turns history into user turns, and prices null costs from models.json', () => {
    const file = join(dir, 'good.jsonl');
    writeFileSync(
      file,
      [
        line({ id: 'arc.1', task: 'arc-challenge' }),
        line({ id: 'wino.1', task: 'winogrande' }),
        line({ id: 'mmlu.med', task: 'mmlu', category: 'clinical_knowledge' }),
        line({ id: 'mmlu.law', task: 'mmlu', category: 'professional_law' }),
        line({ id: 'mmlu.alg', task: 'mmlu', category: 'abstract_algebra' }),
        line({ id: 'gsm.1', task: 'gsm8k' }),
        line({ id: 'mt.1.t2', task: 'mt_bench', category: 'writing', history: ['first turn'] }),
        line({ id: 'mbpp.1', task: 'mbpp' }),
        line({ id: 'odd id/with spaces', task: 'trivia' }),
        '',
      ].join('\n'),
    );
    const data = loadEvalDataset([file]);
    const byId = new Map(data.rows.map((r) => [r.rowId, r]));
    const t = (id: string) => [byId.get(id)!.request.taskType, byId.get(id)!.request.domain];
    assert.deepEqual(t('arc.1'), ['classification', 'general']);
    assert.deepEqual(t('wino.1'), ['classification', 'general']);
    assert.deepEqual(t('mmlu.med'), ['qa', 'medical']);
    assert.deepEqual(t('mmlu.law'), ['qa', 'legal']);
    assert.deepEqual(t('mmlu.alg'), ['qa', 'general']);
    assert.deepEqual(t('gsm.1'), ['reasoning', 'general']);
    assert.deepEqual(t('mt.1.t2'), ['generation', 'general']);
    assert.deepEqual(t('mbpp.1'), ['code', 'general']);
    assert.deepEqual(t('odd id/with spaces'), ['other', 'general']);
    assert.deepEqual(byId.get('mt.1.t2')!.request.history, [{ role: 'user', content: 'first turn' }]);
    // 40 prompt chars = 10 input tokens; mmlu answers 1 token by default: (10·1 + 1·1) / 1e6 for a.
    assert.equal(byId.get('mmlu.alg')!.outcomes.a!.costUsd, 11e-6);
    // gsm8k's assumed 100 output tokens: (10 + 100) / 1e6.
    assert.equal(byId.get('gsm.1')!.outcomes.a!.costUsd, 110e-6);
    assert.equal(byId.get('arc.1')!.outcomes.c!.costUsd, 0.5, 'a recorded cost is used as is');
    // The invalid id is sanitised, and maps back.
    const odd = byId.get('odd id/with spaces')!;
    assert.match(odd.request.requestId, /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/);
    assert.equal(data.requestIdToRowId.get(odd.request.requestId), 'odd id/with spaces');
    assert.equal(sanitizeRequestId('arc.1'), 'arc.1');
  });

  it('drops rows missing a catalog model and says so', () => {
    const file = join(dir, 'partial.jsonl');
    writeFileSync(
      file,
      [
        line({ id: 'p1', task: 'mmlu' }),
        line({ id: 'p2', task: 'mmlu' }),
        line({ id: 'p3', task: 'mmlu', outcomes: { a: { quality: 1, costUsd: 0.1, outputChars: 1 } } }),
      ].join('\n'),
    );
    const data = loadEvalDataset([file]);
    assert.deepEqual(data.rows.map((r) => r.rowId), ['p1', 'p2']);
    assert.deepEqual(data.dropped, [{ rowId: 'p3', where: `${file}:3`, missing: ['c'] }]);
    assert.match(data.notes.join('\n'), /dropped 1 of 3 rows/);
  });

  it('a bad file gives an error naming the file, the line and the field', () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, [line({ id: 'ok', task: 'mmlu' }), '{"id": "broken",'].join('\n'));
    assert.throws(() => loadEvalDataset([bad]), (err: Error) => err.message.includes(`${bad}:2`) && /not valid JSON/.test(err.message));
    const missing = join(dir, 'missing-field.jsonl');
    writeFileSync(missing, [line({ id: 'ok', task: 'mmlu' }), JSON.stringify({ id: 'x', source: 's', task: 'mmlu', category: null, history: [], outcomes: {} })].join('\n'));
    assert.throws(() => loadEvalDataset([missing]), (err: Error) => err.message.includes(`${missing}:2: field "prompt"`));
    const empty = join(dir, 'empty-prompt.jsonl');
    writeFileSync(empty, line({ id: 'blank', task: 'mmlu', prompt: '   ' }));
    assert.throws(() => loadEvalDataset([empty]), (err: Error) => err.message.includes(`${empty}:1: row "blank" is not a valid request`) && /prompt/.test(err.message));
    assert.throws(() => loadEvalDataset([join(dir, 'nope.jsonl')]), /cannot read outcome file .*nope\.jsonl/);
    const dup = join(dir, 'dup.jsonl');
    writeFileSync(dup, line({ id: 'arc.1', task: 'arc-challenge' }));
    assert.throws(() => loadEvalDataset([join(dir, 'good.jsonl'), dup]), (err: Error) => err.message.includes(`${dup}:1: field "id": duplicate row id "arc.1"`));
    const unpriced = join(dir, 'unpriced.jsonl');
    writeFileSync(unpriced, line({ id: 'u', task: 'mmlu', outcomes: { zz: { quality: 1, costUsd: null, outputChars: null } } }));
    assert.throws(() => loadEvalDataset([unpriced]), /no price for model "zz"/);
  });
});
