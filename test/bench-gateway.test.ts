import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { benchGateway, GATEWAY_ARMS, GATEWAY_P50_TARGET, levelFigures, type ArmSample } from '../src/analytics/bench/gateway';
import { installQuietRuntime } from '../src/worker/runtime';
import { loadRouterConfig } from '../src/worker/config';
import { runCli } from './helpers/cli';

/**
 * `bench gateway`: the figures from samples (by hand), then the runner itself on a tiny run: its shape and its
 * consistency, never its speed.
 */

const sample = (latenciesMs: number[], elapsedMs: number, verified = latenciesMs.length, processCpuMs = 0, serverCpuMs = 0): ArmSample => ({ latenciesMs, elapsedMs, verified, processCpuMs, serverCpuMs });

describe('bench gateway: figures', () => {
  it('nearest-rank percentiles, requests/s over the batches, and each gateway arm ÷ the client', () => {
    const level = levelFigures(4, {
      // Out of order on purpose: the percentiles sort.
      client: sample([40, 10, 30, 20], 2_000, 4, 100, 40),
      gateway: sample([11, 44, 33, 22], 4_000, 3),
      gatewayBudget: sample([50, 60, 70, 80], 1_000),
    });
    // 4 values: p50 is the value at index floor(0.5 × 4) = 2 of the sorted list, p95 and p99 the one at index 3.
    // CPU per request: 100 ms and 40 ms over 4 requests.
    assert.deepEqual(level.arms.client, { requests: 4, verified: 4, rps: 2, p50Ms: 30, p95Ms: 40, p99Ms: 40, processCpuMsPerRequest: 25, serverCpuMsPerRequest: 10 });
    assert.deepEqual(level.arms.gateway, { requests: 4, verified: 3, rps: 1, p50Ms: 33, p95Ms: 44, p99Ms: 44, processCpuMsPerRequest: 0, serverCpuMsPerRequest: 0 });
    assert.deepEqual(level.arms.gatewayBudget, { requests: 4, verified: 4, rps: 4, p50Ms: 70, p95Ms: 80, p99Ms: 80, processCpuMsPerRequest: 0, serverCpuMsPerRequest: 0 });
    assert.equal(level.toClient.gateway.p50, 33 / 30);
    assert.equal(level.toClient.gateway.rps, 0.5);
    assert.equal(level.toClient.gatewayBudget.p50, 70 / 30);
    assert.equal(level.toClient.gatewayBudget.rps, 2);
    // 1.1× is within 1.15×; the budget arm's 2.33× is not part of the target.
    assert.equal(level.targetMet, true);
  });

  it('misses the target when the gateway p50 is more than 1.15× the client one', () => {
    const level = levelFigures(1, { client: sample([100], 100), gateway: sample([116], 116), gatewayBudget: sample([100], 100) });
    assert.equal(level.toClient.gateway.p50, 1.16);
    assert.equal(level.targetMet, false);
  });
});

describe('bench gateway: the runner (embedded dev server, worker, gateway on loopback)', () => {
  it('every arm answers N requests at each concurrency, every gateway answer is its run\'s completion, the ratios are the figures divided', { timeout: 240_000 }, async () => {
    installQuietRuntime();
    const config = loadRouterConfig({});
    const lines: string[] = [];
    const requests = 6;
    const r = await benchGateway({ requests, concurrency: [1, 2], catalog: config.catalog, policy: config.policies.get('default')! }, (line) => lines.push(line));
    assert.equal(r.target, GATEWAY_P50_TARGET);
    assert.match(r.provider, /^instant \(simulated\)/);
    assert.deepEqual(r.levels.map((l) => l.concurrency), [1, 2]);
    for (const level of r.levels) {
      for (const arm of GATEWAY_ARMS) {
        const f = level.arms[arm];
        assert.equal(f.requests, requests, `${arm} @${level.concurrency}`);
        assert.equal(f.verified, requests, `${arm} @${level.concurrency}: every answer is the one its run kept`);
        assert.ok(f.p50Ms > 0 && f.p50Ms <= f.p95Ms && f.p95Ms <= f.p99Ms, `${arm} @${level.concurrency}: ${JSON.stringify(f)}`);
        assert.ok(f.rps > 0, `${arm} @${level.concurrency}`);
        assert.ok(f.processCpuMsPerRequest > 0, `${arm} @${level.concurrency}: this process did work for it`);
      }
      const { client, gateway, gatewayBudget } = level.arms;
      assert.equal(level.toClient.gateway.p50, gateway.p50Ms / client.p50Ms);
      assert.equal(level.toClient.gateway.rps, gateway.rps / client.rps);
      assert.equal(level.toClient.gatewayBudget.p50, gatewayBudget.p50Ms / client.p50Ms);
      assert.equal(level.targetMet, gateway.p50Ms / client.p50Ms <= 1.15);
    }
    assert.equal(r.targetMet, r.levels.every((l) => l.targetMet));
    // Each budgeted request makes one model call (the instant answers pass the gate): 6 per level plus the
    // warm-ups (one per in-flight slot: 1 + 2), each reserved once and settled once.
    assert.equal(r.budget.reserved, 2 * requests + 1 + 2);
    assert.equal(r.budget.settled, r.budget.reserved);
    assert.ok(lines.some((l) => /^gateway at http:\/\/127\.0\.0\.1:\d+\/v1/.test(l)), lines.join('\n'));
    assert.equal(lines.filter((l) => l.startsWith('concurrency ')).length, 2);
  });
});

describe('bench gateway: the command line (built CLI)', () => {
  it('refuses a bad --requests or --concurrency, naming it, before starting anything', async () => {
    for (const [args, option] of [
      [['--requests', '0'], '--requests'],
      [['--requests', '1e3'], '--requests'],
      [['--concurrency', '1,0'], '--concurrency'],
      [['--concurrency', '1,x'], '--concurrency'],
    ] as const) {
      const { code, stdout, stderr } = await runCli(['bench', 'gateway', ...args]);
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
      assert.equal(stdout, '');
      assert.ok(stderr.includes(`${option}: must be `), `${args.join(' ')}: ${stderr}`);
    }
  });
});
