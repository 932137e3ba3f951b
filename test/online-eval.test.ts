import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { loadBanditPolicy } from '../src/analytics/offline/dataset';
import { runOnlineEval } from '../src/analytics/offline/onlineRun';

const SHARED = join(__dirname, '..', '..', 'shared', 'data');

describe('eval --strategy bandit --online on recorded outcomes', () => {
  let data: string;
  before(() => {
    const source = join(SHARED, 'routerbench', 'train.jsonl');
    if (!existsSync(source)) throw new Error(`this test reads recorded outcomes from ${source}; it needs the shared data folder beside the project`);
    data = join(mkdtempSync(join(tmpdir(), 'online-')), 'routerbench-111.jsonl');
    writeFileSync(data, `${readFileSync(source, 'utf8').split('\n').filter((l, i) => l.trim() && i % 20 === 0).join('\n')}\n`);
  });

  it('runs every algorithm on every seed, learning from bandit feedback, with regret and the classifier beside it', () => {
    const policy = loadBanditPolicy(join(__dirname, '..', 'config', 'bandit-policy.json'));
    const output = runOnlineEval({ data: [data], prices: join(SHARED, 'models.json'), gate: { enabled: true, judgeError: 0.1, judgeCostRatio: 0.1, seed: 1 }, maxEscalations: 3, folds: 5, seeds: [1, 2], policy });
    assert.equal(output.strategy, 'bandit');
    assert.deepEqual(output.online.algorithms.map((a) => a.algorithm), ['epsilon-greedy', 'thompson', 'linear-thompson']);
    assert.equal(output.online.runs.length, 6);
    for (const run of output.online.runs) {
      // The per-prompt oracle knows every model's outcome: no strategy can beat it on any request.
      assert.ok(run.regretVsOracle >= -1e-9, `${run.algorithm}/${run.seed}: regret vs oracle ${run.regretVsOracle}`);
      assert.ok(run.regretVsOracle >= run.regretVsBestFixed - 1e-9, 'the oracle is at least as good as the best fixed first choice');
      assert.equal(run.choicesByQuarter.length, 4);
      assert.ok(run.lastHalf.qualityRetention > 0 && run.whole.costSavings < 1);
    }
    const seeds = output.online.runs.filter((r) => r.algorithm === 'thompson');
    assert.notDeepEqual(seeds[0]!.choicesByQuarter, seeds[1]!.choicesByQuarter, 'each seed streams the rows in its own order');
    assert.ok(Object.keys(output.baselines).includes('best') && Object.keys(output.baselines).includes('oracle'));
  });
});
