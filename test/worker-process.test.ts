import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DecisionLogStore } from '../src/analytics/decisionLogStore';
import { RoutingToEndClient } from './helpers/routerClient';
import { devServerEnv } from './helpers/temporal';

const ROOT = join(__dirname, '..');

function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms; output: ${seen}`)), timeoutMs);
    child.stderr!.on('data', (d: Buffer) => {
      seen += d.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve(seen);
      }
    });
  });
}

describe('production worker process (prebuilt bundle)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await devServerEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  it('serves requests from the built bundle and exits cleanly on SIGTERM', async () => {
    const decisionLog = join(mkdtempSync(join(tmpdir(), 'router-worker-')), 'decisions.db');
    const worker = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'cli', 'main.js'), 'worker'], {
      cwd: ROOT,
      env: { ...process.env, TEMPORAL_ADDRESS: env.address, MODEL_ROUTER_DECISION_LOG: decisionLog, MODEL_ROUTER_SIM_LATENCY_SCALE: '0' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
    try {
      await waitForOutput(worker, /polling "model-router"/, 30_000);
      const log = await new RoutingToEndClient({ client: env.client }).route({
        requestId: 'worker-process-1',
        prompt: 'Extract the tracking number from: "parcel QS-99812 is late"',
        taskType: 'extraction',
        fieldCount: 1,
      });
      assert.equal(log.decision.ruleId, 'small-extraction-small');
      const stopped = waitForOutput(worker, /worker stopped/, 30_000);
      worker.kill('SIGTERM');
      await stopped;
      assert.equal(await exited, 0);
      const store = await DecisionLogStore.open(decisionLog);
      assert.equal((await store.get('worker-process-1'))?.costUsd, log.costUsd, 'the worker wrote the decision log row');
      await store.close();
    } finally {
      worker.kill('SIGKILL');
    }
  });
});
