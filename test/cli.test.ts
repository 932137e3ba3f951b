import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DecisionLogSchema } from '../src/domain/results';
import { DEMO_REQUESTS } from '../src/cli/demoRequests';

const ROOT = join(__dirname, '..');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

/** Runs the built CLI as a user would (npm test builds it first), with a bounded wait. */
function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`model-router ${args.join(' ')} did not finish in 120 s; stderr: ${stderr}`));
    }, 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('model-router CLI (built, real embedded dev server)', () => {
  it('demo --json routes the whole batch and prints one object with the four metrics', async () => {
    const { code, stdout, stderr } = await runCli(['demo', '--json']);
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout) as { requests: number; provider: string; metrics: Record<string, number>; decisions: unknown[] };
    assert.equal(report.requests, DEMO_REQUESTS.length);
    assert.equal(report.provider, 'simulated');
    assert.deepEqual(Object.keys(report.metrics).sort(), ['costSavings', 'escalationRate', 'qualityRetention', 'routingAccuracy']);
    for (const [name, value] of Object.entries(report.metrics)) assert.ok(value >= -1 && value <= 1, `${name}=${value}`);
    const decisions = report.decisions.map((d) => DecisionLogSchema.parse(d));
    assert.deepEqual(
      decisions.map((d) => d.requestId),
      DEMO_REQUESTS.map((r) => r.requestId),
    );
    assert.ok(decisions.every((d) => d.origin === 'simulated' && d.answer.includes('simulated')), 'every answer is labelled simulated');
    const escalated = decisions.filter((d) => d.wasEscalated).length;
    assert.equal(report.metrics.escalationRate, escalated / decisions.length);
  });

  it('route --json prints the decision log of one request', async () => {
    const { code, stdout, stderr } = await runCli([
      'route',
      '--prompt',
      'Is this ticket about billing or delivery? "I was charged twice for label QS-1182"',
      '--task-type',
      'classification',
      '--request-id',
      'cli-test-1',
      '--json',
    ]);
    assert.equal(code, 0, stderr);
    const log = DecisionLogSchema.parse(JSON.parse(stdout));
    assert.equal(log.requestId, 'cli-test-1');
    assert.equal(log.workflowId, 'route-cli-test-1');
    assert.equal(log.decision.ruleId, 'classification-small');
    assert.equal(log.selectedModel, 'gpt-4o-mini');
    assert.equal(log.origin, 'simulated');
  });

  it('route with a bad task type fails with the field and the rule, before any server starts', async () => {
    const { code, stdout, stderr } = await runCli(['route', '--prompt', 'hello', '--task-type', 'poetry', '--json']);
    assert.equal(code, 2);
    assert.equal(stdout, '');
    assert.match(stderr, /taskType: must be one of "classification".*got "poetry"/);
  });

  it('route without a prompt names the missing field', async () => {
    const { code, stderr } = await runCli(['route', '--json']);
    assert.equal(code, 2);
    assert.match(stderr, /prompt: is required/);
  });
});
