import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DecisionLogStore } from '../src/analytics/decisionLogStore';
import { DecisionLogWriteError, DecisionLogWriter } from '../src/analytics/decisionLogWriter';
import { DecisionLogSchema, type DecisionLog } from '../src/domain/results';

function logFor(requestId: string, costUsd = 0.002): DecisionLog {
  return DecisionLogSchema.parse({
    requestId,
    workflowId: `route-${requestId}`,
    timestamp: '2026-12-02T00:00:00.000Z',
    tenant: 'default',
    policyId: 'default',
    policyVersion: '1',
    strategy: 'rules',
    requestFeatures: { taskType: 'qa', domain: 'general', domainRisk: 'low', promptTokens: 10, historyTurns: 0, reasoningMarkers: 0, expectedOutputTokens: 20, complexity: 0.1 },
    decision: { model: 'small', confidence: 0.9, confidenceAdjustment: 0, alternatives: [], reason: 'test', strategy: 'rules', policyVersion: '1' },
    selectedModel: 'small',
    finalModel: 'small',
    alternativeModels: [],
    confidence: 0.9,
    qualityScore: 1,
    passed: true,
    costUsd,
    costSavedUsd: 0.01,
    possiblyBilledUsd: 0.001,
    possiblyBilledCalls: 1,
    bestModel: 'large',
    wasEscalated: false,
    escalations: 0,
    attempts: [],
    answer: 'an answer',
    origin: 'live',
  });
}

/** Settles after `ms` on this thread's event loop: it can only fire if nothing blocks the loop meanwhile. */
function tick(ms: number): Promise<'tick'> {
  return new Promise((resolve) => setTimeout(() => resolve('tick'), ms));
}

describe('decision-log writer thread', () => {
  const dir = mkdtempSync(join(tmpdir(), 'router-dlog-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes rows once, with the possibly-billed column, readable by the store', async () => {
    const path = join(dir, 'ok.sqlite');
    const writer = new DecisionLogWriter(path);
    await writer.record(logFor('a'));
    await writer.record(logFor('a', 99)); // a retried activity: the row is already there
    await writer.close();
    const store = new DecisionLogStore(path);
    assert.equal(store.count(), 1);
    assert.equal(store.get('a')?.costUsd, 0.002);
    const db = new Database(path, { readonly: true });
    assert.deepEqual(db.prepare('SELECT possibly_billed_usd AS p FROM decision_log').get(), { p: 0.001 });
    db.close();
    store.close();
  });

  it('a locked file never blocks the event loop: the write fails after the busy timeout, naming the file, and succeeds once unlocked', async () => {
    const path = join(dir, 'locked.sqlite');
    new DecisionLogStore(path).close();
    const locker = new Database(path);
    locker.exec('BEGIN EXCLUSIVE');
    const writer = new DecisionLogWriter(path, { busyTimeoutMs: 400 });
    const write = writer.record(logFor('b'));
    write.catch(() => {});
    // With a synchronous write, the busy wait would hold the loop and the write would settle first.
    assert.equal(await Promise.race([write.then(() => 'written', () => 'failed'), tick(50)]), 'tick');
    await assert.rejects(write, (err: Error) => err instanceof DecisionLogWriteError && err.message.includes(path) && /locked/.test(err.message));
    locker.exec('COMMIT');
    locker.close();
    await writer.record(logFor('b'));
    await writer.close();
    const store = new DecisionLogStore(path);
    assert.equal(store.count(), 1);
    store.close();
  });

  it('refuses writes beyond its queue bound at once rather than queue without bound', async () => {
    const path = join(dir, 'bounded.sqlite');
    new DecisionLogStore(path).close();
    const locker = new Database(path);
    locker.exec('BEGIN EXCLUSIVE');
    const writer = new DecisionLogWriter(path, { busyTimeoutMs: 300, maxPending: 2 });
    const accepted = [writer.record(logFor('c1')), writer.record(logFor('c2'))];
    for (const w of accepted) w.catch(() => {});
    await assert.rejects(writer.record(logFor('c3')), /2 writes already waiting/);
    await Promise.allSettled(accepted);
    locker.exec('ROLLBACK');
    locker.close();
    await writer.close();
  });
});
