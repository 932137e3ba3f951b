import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DecisionLogSchema, type DecisionLog, type DecisionLogSink } from '../domain/results';

/**
 * One row per request in a SQLite file. The requestId is the primary key and inserts are "OR IGNORE", so an
 * activity retried after a crash cannot write (or count the cost of) a request twice.
 */
export class DecisionLogStore implements DecisionLogSink {
  private readonly db: Database.Database;

  constructor(readonly path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`
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
  }

  record(log: DecisionLog): void {
    this.db
      .prepare(
        `INSERT OR IGNORE INTO decision_log
         (request_id, recorded_at, tenant, strategy, selected_model, final_model, escalated, quality_score, cost_usd, cost_saved_usd, origin, log_json)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
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
        log.origin,
        JSON.stringify(log),
      );
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
