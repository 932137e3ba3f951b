/**
 * The decision log's schema versions. Each migration runs once per database, in name order (Kysely's Migrator
 * records them in kysely_migration); an older file is brought up to date when it is opened, and a file that has
 * a migration this build does not know (written by a newer model-router) is refused before anything is changed.
 */
import { Migrator, sql, type Kysely, type Migration } from 'kysely';
import { DecisionLogSchema } from '../../domain/results';
import { attemptRows, logColumns } from './rows';

type AnyDb = Kysely<any>; // migrations see the schema as it was, not as tables.ts describes it now

/** Version 1: the table the first releases created (SQLite only), plus the column they added later. */
const v1: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('decision_log')
      .ifNotExists()
      .addColumn('request_id', 'text', (c) => c.primaryKey())
      .addColumn('recorded_at', 'text', (c) => c.notNull())
      .addColumn('tenant', 'text', (c) => c.notNull())
      .addColumn('strategy', 'text', (c) => c.notNull())
      .addColumn('selected_model', 'text', (c) => c.notNull())
      .addColumn('final_model', 'text', (c) => c.notNull())
      .addColumn('escalated', 'integer', (c) => c.notNull())
      .addColumn('quality_score', 'double precision', (c) => c.notNull())
      .addColumn('cost_usd', 'double precision', (c) => c.notNull())
      .addColumn('cost_saved_usd', 'double precision', (c) => c.notNull())
      .addColumn('origin', 'text', (c) => c.notNull())
      .addColumn('log_json', 'text', (c) => c.notNull())
      .addColumn('possibly_billed_usd', 'double precision', (c) => c.notNull().defaultTo(0))
      .execute();
    // Files from before possibly-billed accounting have the table without the column.
    const table = (await db.introspection.getTables()).find((t) => t.name === 'decision_log');
    if (!table?.columns.some((c) => c.name === 'possibly_billed_usd')) {
      await db.schema.alterTable('decision_log').addColumn('possibly_billed_usd', 'double precision', (c) => c.notNull().defaultTo(0)).execute();
    }
  },
};

/** Columns the new fields are backfilled into from each row's log_json. */
const V2_COLUMNS: [name: string, type: 'text' | 'integer' | 'double precision', fallback: string | number][] = [
  ['workflow_id', 'text', ''],
  ['policy_id', 'text', ''],
  ['policy_version', 'text', ''],
  ['best_model', 'text', ''],
  ['alternative_models', 'text', '[]'],
  ['request_features', 'text', '{}'],
  ['confidence', 'double precision', 0],
  ['propensity', 'double precision', 1],
  ['passed', 'integer', 0],
  ['escalations', 'integer', 0],
  ['raced', 'integer', 0],
  ['judge_cost_usd', 'double precision', 0],
  ['latency_ms', 'double precision', 0],
];

const V2_ATTEMPT_COLUMNS = [
  'request_id',
  'attempt_index',
  'model',
  'cause',
  'status',
  'input_tokens',
  'output_tokens',
  'cost_usd',
  'cost_estimated',
  'latency_ms',
  'verdict_passed',
  'verdict_score',
  'evaluator',
  'judge_cost_usd',
  'error',
] as const;

/** Version 2: the seed's RoutingDecisionLog fields as columns, attempts in their own table, shadow samples, indexes. */
const v2: Migration = {
  async up(db: AnyDb) {
    for (const [name, type, fallback] of V2_COLUMNS) {
      await db.schema.alterTable('decision_log').addColumn(name, type, (c) => c.notNull().defaultTo(fallback)).execute();
    }
    await db.schema
      .createTable('decision_attempt')
      .addColumn('request_id', 'text', (c) => c.notNull().references('decision_log.request_id').onDelete('cascade'))
      .addColumn('attempt_index', 'integer', (c) => c.notNull())
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('cause', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('input_tokens', 'integer', (c) => c.notNull())
      .addColumn('output_tokens', 'integer', (c) => c.notNull())
      .addColumn('cost_usd', 'double precision', (c) => c.notNull())
      .addColumn('cost_estimated', 'integer', (c) => c.notNull())
      .addColumn('latency_ms', 'double precision', (c) => c.notNull())
      .addColumn('verdict_passed', 'integer')
      .addColumn('verdict_score', 'double precision')
      .addColumn('evaluator', 'text')
      .addColumn('judge_cost_usd', 'double precision', (c) => c.notNull())
      .addColumn('error', 'text')
      .addPrimaryKeyConstraint('decision_attempt_pk', ['request_id', 'attempt_index'])
      .execute();
    await db.schema
      .createTable('shadow_sample')
      .addColumn('request_id', 'text', (c) => c.primaryKey())
      .addColumn('workflow_id', 'text', (c) => c.notNull())
      .addColumn('recorded_at', 'text', (c) => c.notNull())
      .addColumn('tenant', 'text', (c) => c.notNull())
      .addColumn('policy_id', 'text', (c) => c.notNull())
      .addColumn('strategy', 'text', (c) => c.notNull())
      .addColumn('routed_model', 'text', (c) => c.notNull())
      .addColumn('best_model', 'text', (c) => c.notNull())
      .addColumn('judge_model', 'text', (c) => c.notNull())
      .addColumn('routed_score', 'double precision', (c) => c.notNull())
      .addColumn('best_score', 'double precision', (c) => c.notNull())
      .addColumn('routed_shown_first', 'integer', (c) => c.notNull())
      .addColumn('cost_usd', 'double precision', (c) => c.notNull())
      .addColumn('origin', 'text', (c) => c.notNull())
      .execute();
    // The report filters by time window, policy and tenant.
    await db.schema.createIndex('decision_log_recorded_at').on('decision_log').column('recorded_at').execute();
    await db.schema.createIndex('decision_log_policy_recorded_at').on('decision_log').columns(['policy_id', 'recorded_at']).execute();
    await db.schema.createIndex('decision_log_tenant_recorded_at').on('decision_log').columns(['tenant', 'recorded_at']).execute();
    await db.schema.createIndex('shadow_sample_recorded_at').on('shadow_sample').column('recorded_at').execute();

    // Rows written before this version: fill the new columns and the attempts table from the JSON they kept.
    const rows = await db.selectFrom('decision_log').select(['request_id', 'log_json']).execute();
    for (const row of rows as { request_id: string; log_json: string }[]) {
      const parsed = DecisionLogSchema.safeParse(JSON.parse(row.log_json));
      if (!parsed.success) continue; // unreadable JSON keeps the defaults rather than blocking the upgrade
      // Only this version's columns: a later version's columns do not exist yet when this one runs.
      const columns: Record<string, unknown> = { ...logColumns(parsed.data) };
      await db
        .updateTable('decision_log')
        .set(Object.fromEntries(V2_COLUMNS.map(([name]) => [name, columns[name]])))
        .where('request_id', '=', row.request_id)
        .execute();
      const attempts = attemptRows(parsed.data).map((a) => Object.fromEntries(V2_ATTEMPT_COLUMNS.map((name) => [name, a[name]])));
      if (attempts.length > 0) await db.insertInto('decision_attempt').values(attempts).execute();
    }
  },
};

/** Every version, by name; names sort in the order they apply. */
export const MIGRATIONS: Record<string, Migration> = {
  '0001-decision-log': v1,
  '0002-columns-attempts-shadow': v2,
};
export const LATEST_SCHEMA = Object.keys(MIGRATIONS).sort().at(-1)!;

/** A database this build cannot use as it is. */
export class DecisionLogSchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecisionLogSchemaError';
  }
}

/** Migrations already applied to `db` (none for a new file, or for one from before versioning). */
async function appliedMigrations(db: AnyDb): Promise<string[]> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  if (!tables.some((t) => t.name === 'kysely_migration')) return [];
  const rows = await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name`.execute(db);
  return rows.rows.map((r) => r.name);
}

/**
 * Brings `db` to LATEST_SCHEMA, or refuses (changing nothing) a database written by a newer model-router.
 * `exclusively` runs the migration holding the database's write lock where the dialect does not (SQLite); a
 * database already up to date is only read.
 */
export async function migrateDecisionLog(db: AnyDb, where: string, exclusively: (migrate: () => Promise<void>) => Promise<void> = (m) => m()): Promise<void> {
  const applied = await appliedMigrations(db);
  const unknown = applied.filter((name) => !(name in MIGRATIONS));
  if (unknown.length > 0) {
    throw new DecisionLogSchemaError(
      `decision log ${where} has schema version ${unknown.at(-1)}, newer than this model-router's ${LATEST_SCHEMA}: ` +
        'upgrade model-router, or point MODEL_ROUTER_DECISION_LOG / --db at another database',
    );
  }
  if (Object.keys(MIGRATIONS).every((name) => applied.includes(name))) return;
  await exclusively(async () => {
    const { error } = await new Migrator({ db, provider: { getMigrations: async () => MIGRATIONS } }).migrateToLatest();
    if (error) throw new DecisionLogSchemaError(`decision log ${where}: migrating to ${LATEST_SCHEMA} failed: ${(error as Error).message ?? String(error)}`);
  });
}
