import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, type ExpressionBuilder, type Transaction } from 'kysely';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Pool } from 'pg';
import { DecisionLogSchema, type DecisionLog, type DecisionLogSink, type ShadowSample } from '../domain/results';
import type { ReportFilter, ReportRequest } from './report/model';
import { parseDecisionLogLocation, type DecisionLogLocation } from './store/location';
import { migrateDecisionLog } from './store/migrations';
import { attemptRows, logColumns, shadowColumns, shadowOfRow } from './store/rows';
import type { DecisionLogDatabase, DecisionLogTable } from './store/tables';

/** How long a write waits for another connection's lock before it fails with a clear error. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5_000;
/** How long opening a PostgreSQL connection may take before the store says the database is unreachable. */
const PG_CONNECT_TIMEOUT_MS = 5_000;

export interface DecisionLogStoreOptions {
  busyTimeoutMs?: number;
  /** Names the setting the location came from in error messages (e.g. MODEL_ROUTER_DECISION_LOG, --db). */
  setting?: string;
}

/** The database could not be reached or opened: names the location (never a password) and the cause. */
export class DecisionLogUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecisionLogUnavailableError';
  }
}

function sqliteKysely(path: string, busyTimeoutMs: number): { db: Kysely<DecisionLogDatabase>; raw: Database.Database } {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const raw = new Database(path, { timeout: busyTimeoutMs });
  raw.pragma('journal_mode = WAL');
  raw.pragma('foreign_keys = ON');
  return { db: new Kysely<DecisionLogDatabase>({ dialect: new SqliteDialect({ database: raw }) }), raw };
}

function postgresKysely(url: string): Kysely<DecisionLogDatabase> {
  const pool = new Pool({ connectionString: url, connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS, max: 4 });
  // An idle client whose server went away must not crash the process; the next query reports it.
  pool.on('error', () => {});
  return new Kysely<DecisionLogDatabase>({ dialect: new PostgresDialect({ pool }) });
}

const int = (v: unknown): number => Number(v);

/** A report's window on the decision_log rows (aliased d): since inclusive, until exclusive, policy, tenant. */
function inWindow(eb: ExpressionBuilder<{ d: DecisionLogTable }, 'd'>, filter: ReportFilter) {
  const conditions = [];
  if (filter.since) conditions.push(eb('d.recorded_at', '>=', filter.since));
  if (filter.until) conditions.push(eb('d.recorded_at', '<', filter.until));
  if (filter.policy) conditions.push(eb('d.policy_id', '=', filter.policy));
  if (filter.tenant) conditions.push(eb('d.tenant', '=', filter.tenant));
  return eb.and(conditions);
}

/**
 * The decision log: one row per request (and its attempts, and at most one shadow sample), in a SQLite file or a
 * PostgreSQL database, through one schema and one set of Kysely queries. Writes are idempotent by requestId, in
 * one transaction with the attempts, so a retried activity or two racing workers write a request exactly once.
 * A worker writes SQLite through DecisionLogWriter (its own thread); PostgreSQL's driver never blocks the loop.
 */
export class DecisionLogStore implements DecisionLogSink {
  private constructor(
    readonly location: DecisionLogLocation,
    private readonly db: Kysely<DecisionLogDatabase>,
  ) {}

  /** Opens the database and brings its schema up to date (refusing one from a newer model-router). */
  static async open(where: string | DecisionLogLocation, options: DecisionLogStoreOptions = {}): Promise<DecisionLogStore> {
    const location = typeof where === 'string' ? parseDecisionLogLocation(where, options.setting ?? 'decision log') : where;
    if (location.kind === 'sqlite') {
      const { db, raw } = sqliteKysely(location.path, options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS);
      try {
        // Kysely runs SQLite migrations outside a transaction; one IMMEDIATE transaction around them keeps a
        // second process opening the same file from applying them twice.
        await migrateDecisionLog(db, location.display, async (migrate) => {
          raw.exec('BEGIN IMMEDIATE');
          try {
            await migrate();
            raw.exec('COMMIT');
          } catch (err) {
            if (raw.inTransaction) raw.exec('ROLLBACK');
            throw err;
          }
        });
      } catch (err) {
        await db.destroy();
        throw err;
      }
      return new DecisionLogStore(location, db);
    }
    const db = postgresKysely(location.url);
    try {
      await migrateDecisionLog(db, location.display);
    } catch (err) {
      await db.destroy();
      const { code, message } = err as Error & { code?: string };
      if (code && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|28P01|28000|3D000)$/.test(code)) {
        throw new DecisionLogUnavailableError(`decision log ${location.display} is unreachable: ${message} (${code})`);
      }
      if (/timeout/i.test(message)) throw new DecisionLogUnavailableError(`decision log ${location.display} is unreachable: ${message}`);
      throw err;
    }
    return new DecisionLogStore(location, db);
  }

  /** Writes the request once: true when this call wrote it, false when its row was already there. */
  async record(log: DecisionLog): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      if (!(await this.insertOnce(trx, 'decision_log', logColumns(log)))) return false;
      const attempts = attemptRows(log);
      if (attempts.length > 0) await trx.insertInto('decision_attempt').values(attempts).execute();
      return true;
    });
  }

  /** Writes the shadow sample once: true when this call wrote it. */
  async recordShadow(sample: ShadowSample): Promise<boolean> {
    return this.db.transaction().execute((trx) => this.insertOnce(trx, 'shadow_sample', shadowColumns(sample)));
  }

  private async insertOnce<T extends 'decision_log' | 'shadow_sample'>(trx: Transaction<DecisionLogDatabase>, table: T, row: DecisionLogDatabase[T]): Promise<boolean> {
    const result = await trx
      .insertInto(table)
      .values(row as never)
      .onConflict((oc) => oc.column('request_id').doNothing())
      .executeTakeFirst();
    return int(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async get(requestId: string): Promise<DecisionLog | undefined> {
    const row = await this.db.selectFrom('decision_log').select('log_json').where('request_id', '=', requestId).executeTakeFirst();
    return row ? DecisionLogSchema.parse(JSON.parse(row.log_json)) : undefined;
  }

  /** Every request as the workflow logged it, oldest first. */
  async all(): Promise<DecisionLog[]> {
    const rows = await this.db.selectFrom('decision_log').select('log_json').orderBy('recorded_at').orderBy('request_id').execute();
    return rows.map((r) => DecisionLogSchema.parse(JSON.parse(r.log_json)));
  }

  async count(): Promise<number> {
    const row = await this.db.selectFrom('decision_log').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    return int(row.n);
  }

  /** The requests in a report's window, with their attempts, oldest first. */
  async requests(filter: ReportFilter = {}): Promise<ReportRequest[]> {
    const rows = await this.db.selectFrom('decision_log as d').selectAll().where((eb) => inWindow(eb, filter)).orderBy('recorded_at').orderBy('request_id').execute();
    if (rows.length === 0) return [];
    // The same window's attempts in one query (joined to the filtered rows), grouped by request.
    const attemptRows = await this.db
      .selectFrom('decision_attempt as a')
      .innerJoin('decision_log as d', 'd.request_id', 'a.request_id')
      .select(['a.request_id', 'a.model', 'a.cause', 'a.status', 'a.cost_usd', 'a.verdict_passed', 'a.verdict_score'])
      .where((eb) => inWindow(eb, filter))
      .orderBy('a.request_id')
      .orderBy('a.attempt_index')
      .execute();
    const attempts = new Map<string, ReportRequest['attempts']>();
    for (const a of attemptRows) {
      const list = attempts.get(a.request_id) ?? [];
      list.push({
        model: a.model,
        cause: a.cause,
        status: a.status,
        costUsd: Number(a.cost_usd),
        passed: a.verdict_passed === null ? null : int(a.verdict_passed) === 1,
        score: a.verdict_score === null ? null : Number(a.verdict_score),
      });
      attempts.set(a.request_id, list);
    }
    return rows.map((r) => ({
      requestId: r.request_id,
      workflowId: r.workflow_id,
      timestamp: r.recorded_at,
      tenant: r.tenant,
      policyId: r.policy_id,
      strategy: r.strategy,
      selectedModel: r.selected_model,
      finalModel: r.final_model,
      bestModel: r.best_model,
      propensity: Number(r.propensity),
      passed: int(r.passed) === 1,
      escalated: int(r.escalated) === 1,
      raced: int(r.raced) === 1,
      costUsd: Number(r.cost_usd),
      costSavedUsd: Number(r.cost_saved_usd),
      judgeCostUsd: Number(r.judge_cost_usd),
      latencyMs: Number(r.latency_ms),
      origin: r.origin,
      attempts: attempts.get(r.request_id) ?? [],
    }));
  }

  /** Shadow samples of the requests in a report's window (however long after them they were recorded). */
  async shadowSamples(filter: ReportFilter = {}): Promise<ShadowSample[]> {
    const rows = await this.db
      .selectFrom('shadow_sample as s')
      .innerJoin('decision_log as d', 'd.request_id', 's.request_id')
      .selectAll('s')
      .where((eb) => inWindow(eb, filter))
      .orderBy('s.recorded_at')
      .orderBy('s.request_id')
      .execute();
    return rows.map(shadowOfRow);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
