import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { FileCache } from '../src/activities/fileCache';
import { loadRulesPolicy } from '../src/analytics/offline/dataset';
import { runEval, type EvalCommand, type EvalOutput } from '../src/analytics/offline/evalRun';
import { trainStrategy } from '../src/analytics/offline/trainRun';
import { parseClassifierArtefact } from '../src/domain/classifierArtefact';

const SHARED = join(__dirname, '..', '..', 'shared', 'data');
const PRICES = join(SHARED, 'models.json');

/**
 * The same numbers: counts exactly; costs up to floating-point summation order, since the replay provider reports
 * each answer's recorded cost and the workflow adds the same judge costs.
 */
function assertSameAsFastPath(output: EvalOutput): void {
  const t = output.throughTemporal;
  assert.ok(t, 'the report has the through-Temporal metrics');
  assert.equal(t.maxAbsDifference.routingAccuracy, 0);
  assert.equal(t.maxAbsDifference.qualityRetention, 0);
  assert.equal(t.maxAbsDifference.escalationRate, 0);
  assert.equal(t.metrics.routingAccuracy, output.metrics.routingAccuracy);
  assert.ok(t.maxAbsDifference.costPer1k <= 1e-9 * output.metrics.costPer1k, `cost per 1k: ${JSON.stringify(t)}`);
  assert.ok(t.maxAbsDifference.costSavings <= 1e-9, `cost savings: ${JSON.stringify(t)}`);
}

describe('eval --through-temporal gives the fast path\'s numbers through real workflows', () => {
  let data: string;
  const files = new FileCache();
  const trained = (strategy: string) => {
    const model = join(mkdtempSync(join(tmpdir(), `eval-tt-${strategy}-`)), `${strategy}.json`);
    const { artefact } = trainStrategy({ strategy, data: [data], prices: PRICES, gate: base({}).gate, maxEscalations: 1, folds: 5, seed: 1, k: 5, now: new Date() });
    writeFileSync(model, JSON.stringify(artefact));
    return model;
  };
  const base = (extra: Partial<EvalCommand>): EvalCommand => ({
    data: [data],
    prices: PRICES,
    strategy: 'rules',
    gate: { enabled: true, judgeError: 0.1, judgeCostRatio: 0.1, seed: 7 },
    maxEscalations: 1,
    folds: 5,
    seed: 1,
    k: 5,
    throughTemporal: true,
    rulesPolicy: loadRulesPolicy(join(__dirname, '..', 'config', 'default-policy.json')),
    load: (path, kind, parse) => files.load(path, kind, parse),
    ...extra,
  });

  before(() => {
    const source = join(SHARED, 'routerbench', 'train.jsonl');
    if (!existsSync(source)) throw new Error(`this test reads recorded outcomes from ${source}; it needs the shared data folder beside the project`);
    data = join(mkdtempSync(join(tmpdir(), 'eval-tt-')), 'routerbench-48.jsonl');
    // Every 40th row: all three recorded tasks, small enough for a quick run.
    const lines = readFileSync(source, 'utf8').split('\n').filter((l, i) => l.trim() && i % 40 === 0);
    writeFileSync(data, `${lines.join('\n')}\n`);
  });

  it('rules strategy with a noisy gate', async () => {
    const output = await runEval(base({ strategy: 'rules' }));
    assert.ok(output.n >= 50, `evaluated ${output.n} requests`);
    assert.ok(output.metrics.escalationRate > 0, 'the sample escalates some requests, so the ladder is exercised');
    assertSameAsFastPath(output);
  });

  it('a trained classifier artefact, loaded by path in the route activity', async () => {
    const output = await runEval(base({ strategy: 'classifier', model: trained('classifier'), lambda: 1 }));
    assertSameAsFastPath(output);
  });

  it('a classifier artefact escalating by the cascade: the workflow takes the evaluator\'s steps', async () => {
    const model = trained('classifier');
    const cascade = await runEval(base({ strategy: 'classifier', model, lambda: 1, maxEscalations: 3, escalation: 'cascade' }));
    assertSameAsFastPath(cascade);
    const ladder = await runEval(base({ strategy: 'classifier', model, lambda: 1, maxEscalations: 3, throughTemporal: false }));
    // Same first choices, other escalations: the cascade skips tiers and stops, so the two cost differently.
    assert.equal(cascade.metrics.routingAccuracy, ladder.metrics.routingAccuracy);
    assert.ok(cascade.metrics.escalationRate > 0, 'some requests escalate');
    assert.notEqual(cascade.metrics.costPer1k, ladder.metrics.costPer1k);
  });

  it('train searches the operating point for the cascade when asked, and the artefact loads with a target above 100 %', () => {
    const command = { strategy: 'classifier', data: [data], prices: PRICES, gate: base({}).gate, maxEscalations: 3, folds: 5, seed: 1, k: 5, now: new Date(), targetRetention: 1.02 };
    const { artefact, lines } = trainStrategy({ ...command, escalation: 'cascade' });
    const parsed = parseClassifierArtefact(JSON.parse(JSON.stringify(artefact)));
    assert.equal(parsed.operatingPoint?.escalation, 'cascade');
    assert.equal(parsed.operatingPoint?.targetRetention, 1.02);
    assert.ok(parsed.cascade, 'the cascade evidence is stored beside it');
    assert.ok(lines.some((l) => l.startsWith('operating point (5-fold held-out, cascade)')), lines.join('\n'));
    assert.throws(() => trainStrategy({ ...command, strategy: 'knn', escalation: 'cascade' }), /--escalation: "cascade" needs a pass probability for every model, which the "knn" strategy does not give/);
  });

  it('a trained kNN artefact: kNN is a policy the route activity can run', async () => {
    const output = await runEval(base({ strategy: 'knn', model: trained('knn'), lambda: 1 }));
    assert.ok(Object.keys(output.baselines).length > 0);
    assertSameAsFastPath(output);
  });

  it('without the gate: the first choice alone, no escalation', async () => {
    const output = await runEval(base({ strategy: 'rules', gate: { enabled: false, judgeError: 0, judgeCostRatio: 0.1, seed: 7 } }));
    assert.equal(output.metrics.escalationRate, 0);
    assertSameAsFastPath(output);
  });
});
