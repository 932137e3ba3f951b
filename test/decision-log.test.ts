import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { DecisionLogStore, DecisionLogUnavailableError } from '../src/analytics/decisionLogStore';
import { DecisionLogWriteError, DecisionLogWriter } from '../src/analytics/decisionLogWriter';
import type { ReportFilter } from '../src/analytics/report/model';
import { parseDecisionLogLocation } from '../src/analytics/store/location';
import { DecisionLogSchemaError, LATEST_SCHEMA, MIGRATIONS } from '../src/analytics/store/migrations';
import { DecisionLogSchema, type DecisionLog, type ShadowSample } from '../src/domain/results';
import { freePort } from '../src/servers/localServer';
import { decisionLogFor } from './helpers/decisionLogs';
import { startPostgres, type TestPostgres } from './helpers/postgres';

function logFor(requestId: string, costUsd = 0.002): DecisionLog {
  return decisionLogFor(requestId, { costUsd, possiblyBilledUsd: 0.001, possiblyBilledCalls: 1 });
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
    assert.equal(await writer.record(logFor('a')), true);
    assert.equal(await writer.record(logFor('a', 99)), false); // a retried activity: the row is already there
    await writer.close();
    const store = await DecisionLogStore.open(path);
    assert.equal(await store.count(), 1);
    assert.equal((await store.get('a'))?.costUsd, 0.002);
    const db = new Database(path, { readonly: true });
    assert.deepEqual(db.prepare('SELECT possibly_billed_usd AS p FROM decision_log').get(), { p: 0.001 });
    db.close();
    await store.close();
  });

  it('a locked file never blocks the event loop: the write fails after the busy timeout, naming the file, and succeeds once unlocked', async () => {
    const path = join(dir, 'locked.sqlite');
    await (await DecisionLogStore.open(path)).close();
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
    const store = await DecisionLogStore.open(path);
    assert.equal(await store.count(), 1);
    await store.close();
  });

  it('refuses writes beyond its queue bound at once rather than queue without bound', async () => {
    const path = join(dir, 'bounded.sqlite');
    await (await DecisionLogStore.open(path)).close();
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

/** A request that escalated once: the routed model failed the gate, the next one passed. */
function escalatedLog(requestId: string, timestamp = '2026-12-02T10:00:00.000Z'): DecisionLog {
  const verdict = (passed: boolean, score: number) => ({ passed, score, threshold: 0.7, evaluator: 'judge', reasons: [], costUsd: 0.0001 });
  return DecisionLogSchema.parse({
    ...logFor(requestId, 0.0032),
    timestamp,
    policyId: 'support',
    finalModel: 'large',
    alternativeModels: ['medium', 'large'],
    wasEscalated: true,
    escalations: 1,
    costSavedUsd: 0.0018,
    attempts: [
      { model: 'small', cause: 'routed', inputTokens: 100, outputTokens: 40, costUsd: 0.001, latencyMs: 300, origin: 'live', verdict: verdict(false, 0.4) },
      { model: 'large', cause: 'escalation', inputTokens: 100, outputTokens: 50, costUsd: 0.002, latencyMs: 900, origin: 'live', verdict: verdict(true, 0.9) },
    ],
  });
}

function shadowFor(requestId: string): ShadowSample {
  return {
    requestId,
    workflowId: `shadow-route-${requestId}`,
    timestamp: '2026-12-02T10:00:05.000Z',
    tenant: 'default',
    policyId: 'support',
    strategy: 'rules',
    routedModel: 'small',
    bestModel: 'large',
    judgeModel: 'judge',
    routedScore: 0.8,
    bestScore: 0.9,
    routedShownFirst: false,
    costUsd: 0.004,
    origin: 'live',
  };
}

interface Backend {
  name: string;
  /** A new, empty database's location. */
  fresh(name: string): Promise<string>;
  /** Runs SQL straight on the database, beside the store (what an analyst's client would see). */
  raw(location: string, query: string): Promise<Record<string, unknown>[]>;
  /** A second writer on the same database, as another worker would have. */
  writer(location: string): Promise<{ record(log: DecisionLog): Promise<boolean>; close(): Promise<void> }>;
}

let postgres: TestPostgres | undefined;
const storeDir = mkdtempSync(join(tmpdir(), 'router-store-'));
after(async () => {
  await postgres?.stop();
  rmSync(storeDir, { recursive: true, force: true });
});

const BACKENDS: Backend[] = [
  {
    name: 'SQLite',
    fresh: async (name) => join(storeDir, `${name}.sqlite`),
    raw: async (path, query) => {
      const db = new Database(path, { readonly: true });
      try {
        return db.prepare(query).all() as Record<string, unknown>[];
      } finally {
        db.close();
      }
    },
    // Another connection on its own thread: the worker's writer.
    writer: async (path) => new DecisionLogWriter(path),
  },
  {
    name: 'PostgreSQL',
    fresh: async (name) => {
      postgres ??= await startPostgres();
      return postgres.createDatabase(name.replace(/-/g, '_'));
    },
    raw: async (url, query) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query(query)).rows as Record<string, unknown>[];
      } finally {
        await client.end();
      }
    },
    writer: (url) => DecisionLogStore.open(url),
  },
];

for (const backend of BACKENDS) {
  describe(`decision-log store on ${backend.name}`, () => {
    it('migrates an empty database to the latest version: the seed fields are columns, attempts their own table', async () => {
      const location = await backend.fresh('columns');
      const store = await DecisionLogStore.open(location);
      const log = escalatedLog('col-1');
      assert.equal(await store.record(log), true);
      await store.close();

      const [row] = await backend.raw(location, "SELECT * FROM decision_log WHERE request_id = 'col-1'");
      assert.equal(row!.selected_model, 'small');
      assert.equal(row!.final_model, 'large');
      assert.deepEqual(JSON.parse(String(row!.alternative_models)), ['medium', 'large']);
      assert.equal(JSON.parse(String(row!.request_features)).taskType, 'qa');
      assert.equal(Number(row!.escalated), 1);
      assert.equal(Number(row!.cost_saved_usd), 0.0018);
      assert.equal(Number(row!.judge_cost_usd).toFixed(6), '0.000200'); // two verdicts at $0.0001
      assert.equal(Number(row!.latency_ms), 1200); // 300 + 900, one after the other
      assert.equal(row!.policy_id, 'support');
      const attempts = await backend.raw(location, "SELECT model, cause, status, verdict_passed, cost_usd FROM decision_attempt WHERE request_id = 'col-1' ORDER BY attempt_index");
      assert.deepEqual(
        attempts.map((a) => [a.model, a.cause, a.status, Number(a.verdict_passed), Number(a.cost_usd)]),
        [
          ['small', 'routed', 'completed', 0, 0.001],
          ['large', 'escalation', 'completed', 1, 0.002],
        ],
      );
      const versions = await backend.raw(location, 'SELECT name FROM kysely_migration ORDER BY name');
      assert.deepEqual(versions.map((v) => v.name), Object.keys(MIGRATIONS).sort());
      assert.equal(LATEST_SCHEMA, '0002-columns-attempts-shadow');
    });

    it('writes a request once when the activity is retried, attempts included, and a shadow sample once', async () => {
      const location = await backend.fresh('retried');
      const store = await DecisionLogStore.open(location);
      assert.equal(await store.record(escalatedLog('retry-1')), true);
      assert.equal(await store.record({ ...escalatedLog('retry-1'), costUsd: 99 }), false);
      assert.equal(await store.recordShadow(shadowFor('retry-1')), true);
      assert.equal(await store.recordShadow({ ...shadowFor('retry-1'), bestScore: 0.1 }), false);
      assert.equal(await store.count(), 1);
      assert.equal((await store.get('retry-1'))?.costUsd, 0.0032);
      assert.deepEqual((await store.shadowSamples()).map((s) => [s.requestId, s.bestScore]), [['retry-1', 0.9]]);
      await store.close();
      const [attempts] = await backend.raw(location, 'SELECT COUNT(*) AS n FROM decision_attempt');
      assert.equal(Number(attempts!.n), 2);
    });

    it('two workers racing on the same requests write one row and one set of attempts each', async () => {
      const location = await backend.fresh('racing');
      await (await DecisionLogStore.open(location)).close();
      const [a, b] = [await backend.writer(location), await backend.writer(location)];
      const ids = Array.from({ length: 40 }, (_, i) => `race-${i}`);
      const results = await Promise.all(ids.flatMap((id) => [a.record(escalatedLog(id)), b.record(escalatedLog(id))]));
      await Promise.all([a.close(), b.close()]);
      assert.equal(results.filter((inserted) => inserted).length, ids.length, 'exactly one of each pair of writes wrote the row');
      const [rows] = await backend.raw(location, 'SELECT COUNT(*) AS n FROM decision_log');
      const [attempts] = await backend.raw(location, 'SELECT COUNT(*) AS n FROM decision_attempt');
      assert.equal(Number(rows!.n), ids.length);
      assert.equal(Number(attempts!.n), ids.length * 2);
    });

    it('reads a window back: since inclusive, until exclusive, by policy and tenant', async () => {
      const store = await DecisionLogStore.open(await backend.fresh('window'));
      await store.record(escalatedLog('w-1', '2026-12-01T09:00:00.000Z'));
      await store.record({ ...escalatedLog('w-2', '2026-12-02T09:00:00.000Z'), tenant: 'acme' });
      await store.record({ ...logFor('w-3'), timestamp: '2026-12-03T09:00:00.000Z' });
      const ids = async (filter: ReportFilter) => (await store.requests(filter)).map((r) => r.requestId);
      assert.deepEqual(await ids({}), ['w-1', 'w-2', 'w-3']);
      assert.deepEqual(await ids({ since: '2026-12-02T09:00:00.000Z' }), ['w-2', 'w-3']);
      assert.deepEqual(await ids({ until: '2026-12-02T09:00:00.000Z' }), ['w-1']);
      assert.deepEqual(await ids({ policy: 'support' }), ['w-1', 'w-2']);
      assert.deepEqual(await ids({ tenant: 'acme' }), ['w-2']);
      const [w2] = await store.requests({ tenant: 'acme' });
      assert.deepEqual(w2!.attempts.map((x) => [x.model, x.passed, x.score]), [['small', false, 0.4], ['large', true, 0.9]]);
      await store.close();
    });

    it('refuses a database written by a newer model-router, changing nothing', async () => {
      const location = await backend.fresh('newer');
      const store = await DecisionLogStore.open(location);
      await store.record(logFor('kept'));
      await store.close();
      const write = await backend.writer(location);
      await write.close();
      // What a newer release would have left: a migration this build does not know.
      if (backend.name === 'SQLite') {
        const db = new Database(location);
        db.prepare("INSERT INTO kysely_migration (name, timestamp) VALUES ('0003-from-the-future', '2027-01-01T00:00:00.000Z')").run();
        db.close();
      } else {
        const client = new pg.Client({ connectionString: location });
        await client.connect();
        await client.query("INSERT INTO kysely_migration (name, timestamp) VALUES ('0003-from-the-future', '2027-01-01T00:00:00.000Z')");
        await client.end();
      }
      await assert.rejects(DecisionLogStore.open(location), (err: Error) => {
        assert.ok(err instanceof DecisionLogSchemaError);
        assert.match(err.message, /has schema version 0003-from-the-future, newer than this model-router's 0002-columns-attempts-shadow: upgrade model-router/);
        assert.doesNotMatch(err.message, /router-test/, 'no password in the message');
        return true;
      });
      const [rows] = await backend.raw(location, 'SELECT COUNT(*) AS n FROM decision_log');
      assert.equal(Number(rows!.n), 1);
    });
  });
}

describe('decision-log store: migrations from the schema before versioning (SQLite)', () => {
  // Exactly the table the first releases created; the second variant is from before possibly-billed accounting.
  const OLD_TABLE = `CREATE TABLE decision_log (
      request_id TEXT PRIMARY KEY, recorded_at TEXT NOT NULL, tenant TEXT NOT NULL, strategy TEXT NOT NULL,
      selected_model TEXT NOT NULL, final_model TEXT NOT NULL, escalated INTEGER NOT NULL, quality_score REAL NOT NULL,
      cost_usd REAL NOT NULL, cost_saved_usd REAL NOT NULL, origin TEXT NOT NULL, log_json TEXT NOT NULL)`;

  for (const withPossiblyBilled of [true, false]) {
    it(`migrates a file written with today's schema (${withPossiblyBilled ? 'with' : 'without'} possibly_billed_usd), backfilling columns and attempts`, async () => {
      const path = join(storeDir, `old-${withPossiblyBilled}.sqlite`);
      const db = new Database(path);
      db.exec(OLD_TABLE);
      if (withPossiblyBilled) db.exec('ALTER TABLE decision_log ADD COLUMN possibly_billed_usd REAL NOT NULL DEFAULT 0');
      const log = escalatedLog('old-1');
      db.prepare('INSERT INTO decision_log (request_id, recorded_at, tenant, strategy, selected_model, final_model, escalated, quality_score, cost_usd, cost_saved_usd, origin, log_json) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)').run(
        log.requestId, log.timestamp, log.tenant, log.strategy, log.selectedModel, log.finalModel, 1, log.qualityScore, log.costUsd, log.costSavedUsd, log.origin, JSON.stringify(log),
      );
      db.close();

      const store = await DecisionLogStore.open(path);
      assert.equal(await store.count(), 1);
      const [row] = await store.requests();
      assert.equal(row!.policyId, 'support');
      assert.equal(row!.bestModel, 'large');
      assert.equal(row!.judgeCostUsd.toFixed(6), '0.000200');
      assert.equal(row!.latencyMs, 1200);
      assert.deepEqual(row!.attempts.map((a) => [a.model, a.cause, a.passed]), [['small', 'routed', false], ['large', 'escalation', true]]);
      assert.equal((await store.get('old-1'))?.costUsd, log.costUsd);
      // New rows go in beside the migrated one.
      assert.equal(await store.record(escalatedLog('new-1')), true);
      await store.close();
      const raw = new Database(path, { readonly: true });
      assert.deepEqual(raw.prepare('SELECT name FROM kysely_migration ORDER BY name').all(), Object.keys(MIGRATIONS).sort().map((name) => ({ name })));
      raw.close();
    });
  }
});

describe('decision-log location errors', () => {
  it('refuses a URL it cannot use, naming the setting and the rule', () => {
    const message = (value: string) => {
      try {
        parseDecisionLogLocation(value, '--db');
      } catch (err) {
        return (err as Error).message;
      }
      return assert.fail(`"${value}" was accepted`);
    };
    assert.equal(message('mysql://db.example/router'), '--db: "mysql:" is not supported: give a SQLite file path or a postgres:// URL');
    assert.equal(message('postgres://db.example'), '--db: names no database: add it after the host, e.g. postgres://db.example/model_router');
    assert.equal(message('postgres://user:hunter2@[::1/router'), '--db: "postgres://user:***@[::1/router" is not a valid URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE)');
    assert.equal(message(''), '--db: is empty: give a SQLite file path or a postgres:// URL');
    assert.deepEqual(parseDecisionLogLocation('postgres://u:pw@db.example:5433/router', '--db'), { kind: 'postgres', url: 'postgres://u:pw@db.example:5433/router', display: 'postgres://u:***@db.example:5433/router' });
    assert.equal(parseDecisionLogLocation(`sqlite:${join(storeDir, 'x.db')}`, '--db').kind, 'sqlite');
  });

  it('says an unreachable PostgreSQL is unreachable, naming it without its password', async () => {
    const port = await freePort();
    await assert.rejects(DecisionLogStore.open(`postgres://router:hunter2@127.0.0.1:${port}/router`, { setting: '--db' }), (err: Error) => {
      assert.ok(err instanceof DecisionLogUnavailableError, String(err));
      assert.match(err.message, new RegExp(`^decision log postgres://router:\\*\\*\\*@127\\.0\\.0\\.1:${port}/router is unreachable: .*ECONNREFUSED`));
      assert.doesNotMatch(err.message, /hunter2/);
      return true;
    });
  });
});
