import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DecisionLogSchema, type DecisionLog, type DecisionLogSink } from '../domain/results';

/** How long a write waits for another connection's lock before it fails with a clear error. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5_000;

const COLUMNS = [
  'request_id',
  'recorded_at',
  'tenant',
  'strategy',
  'selected_model',
  'final_model',
  'escalated',
  'quality_score',
  'cost_usd',
  'cost_saved_usd',
  'possibly_billed_usd',
  'origin',
  'log_json',
] as const;

/** Opens (and creates or migrates) the decision-log database. */
export function openDecisionLogDb(path: string, busyTimeoutMs = DEFAULT_BUSY_TIMEOUT_MS): Database.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { timeout: busyTimeoutMs });
  db.pragma('journal_mode = WAL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS decision_log (
      request_id     TEXT PRIMARY KEY,
      recorded_at    TEXT NOT NULL,
      tenant         TEXT NOT NULL,
      strategy       TEXT NOT NULL,
      selected_model TEXT NOT NULL,
      final_model    TEXT NOT NULL,
      escalated      INTEGER NOT NULL,
      quality_score  REAL NOT NULL,
      cost_usd       REAL NOT NULL,
      cost_saved_usd REAL NOT NULL,
      origin         TEXT NOT NULL,
      log_json       TEXT NOT NULL
    )`);
  // Files written before possibly-billed accounting existed get the column, zero for their rows.
  const existing = new Set((db.pragma('table_info(decision_log)') as { name: string }[]).map((c) => c.name));
  if (!existing.has('possibly_billed_usd')) db.exec('ALTER TABLE decision_log ADD COLUMN possibly_billed_usd REAL NOT NULL DEFAULT 0');
  return db;
}

/**
 * Writes one row. The requestId is the primary key and inserts are "OR IGNORE", so an activity retried after a
 * crash cannot write (or count the cost of) a request twice.
 */
export function insertDecisionLog(db: Database.Database, log: DecisionLog): void {
  db.prepare(`INSERT OR IGNORE INTO decision_log (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`).run(
    log.requestId,
    log.timestamp,
    log.tenant,
    log.strategy,
    log.selectedModel,
    log.finalModel,
    log.wasEscalated ? 1 : 0,
    log.qualityScore,
    log.costUsd,
    log.costSavedUsd,
    log.possiblyBilledUsd,
    log.origin,
    JSON.stringify(log),
  );
}

/**
 * One row per request in a SQLite file: reads for reports and tools, and synchronous writes for them and tests.
 * A worker writes through DecisionLogWriter instead, so a locked file never blocks its event loop.
 */
export class DecisionLogStore implements DecisionLogSink {
  private readonly db: Database.Database;

  constructor(readonly path: string) {
    this.db = openDecisionLogDb(path);
  }

  record(log: DecisionLog): void {
    insertDecisionLog(this.db, log);
  }

  get(requestId: string): DecisionLog | undefined {
    const row = this.db.prepare('SELECT log_json FROM decision_log WHERE request_id = ?').get(requestId) as { log_json: string } | undefined;
    return row ? DecisionLogSchema.parse(JSON.parse(row.log_json)) : undefined;
  }

  all(): DecisionLog[] {
    const rows = this.db.prepare('SELECT log_json FROM decision_log ORDER BY recorded_at, request_id').all() as { log_json: string }[];
    return rows.map((r) => DecisionLogSchema.parse(JSON.parse(r.log_json)));
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM decision_log').get() as { n: number }).n;
  }

  close(): void {
    this.db.close();
  }
}
