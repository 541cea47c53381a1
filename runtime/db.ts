// Postgres through kysely: the runtime's tables and the migrations that create them at start-up.
// Applications (actors/) bring their own migrations and run them through the same helper.
import { Kysely, Migrator, PostgresDialect, sql, type Generated, type Migration, type MigrationProvider } from 'kysely';
import { userInfo } from 'node:os';
import pg from 'pg';

export interface CheckpointTable {
  /** the cluster's key prefix: clusters that share a database never see each other's actors */
  cluster: string;
  actor_id: string;
  actor_type: string;
  partition: number;
  /** the journal record number (per actor) the state includes */
  seq: number;
  tick: number;
  state: Buffer;
  /** the outbox entry id of the last batch folded into `state` */
  outbox_id: string;
  epoch: number;
  finished: Generated<boolean>;
  updated_at: Generated<Date>;
}

export interface NodeTable {
  node_id: string;
  url: string;
  started_at: Date;
  last_seen: Date;
  stopped_at: Date | null;
}

export interface RuntimeTables {
  checkpoints: CheckpointTable;
  nodes: NodeTable;
}

export function connectDatabase<T>(url: string, poolSize = 4): Kysely<T> {
  // a URL without a user (the default postgres://127.0.0.1:5432/snaketron) connects as PGUSER or the OS user
  const parsed = new URL(url);
  if (!parsed.username) parsed.username = process.env.PGUSER || userInfo().username;
  const pool = new pg.Pool({ connectionString: parsed.toString(), max: poolSize, connectionTimeoutMillis: 5000 });
  pool.on('error', () => { /* a broken idle connection: the pool replaces it */ });
  // A checked-out client has no listener of the pool's: one that Postgres ends while it holds no query (between a
  // transaction's statements, as Postgres stops) emitted an error nobody heard, which crashed its thread (a worker,
  // whose partitions then waited for Postgres to recover). Its work fails with the error instead, and the pool drops
  // it when it is released.
  pool.on('connect', (client) => { client.on('error', () => undefined); });
  return new Kysely<T>({ dialect: new PostgresDialect({ pool }) });
}

class StaticMigrations implements MigrationProvider {
  constructor(private readonly migrations: Record<string, Migration>) {}
  async getMigrations(): Promise<Record<string, Migration>> { return this.migrations; }
}

/** Brings a schema up to date; `table` keeps each owner's migration history apart. */
export async function migrate(db: Kysely<any>, table: string, migrations: Record<string, Migration>): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: new StaticMigrations(migrations),
    migrationTableName: table,
    migrationLockTableName: `${table}_lock`,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    let reason = error instanceof Error ? error.message : String(error);
    // Postgres' invalid_catalog_name: the database named in the URL is not there
    const code = (error as { code?: unknown }).code;
    if (code === '3D000') reason += ' (create it, e.g. `createdb -h HOST NAME`, or give --database one that exists)';
    // (a host that never answers ends in pg's connection timeout: "Connection terminated due to connection timeout")
    if (code === 'ECONNREFUSED' || code === 'ETIMEDOUT' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || /Connection terminated/.test(reason)) reason = `Postgres does not answer (${reason}): is it running, and is --database right?`;
    throw new Error(failed ? `database migration ${failed} failed: ${reason}` : `cannot prepare the database: ${reason}`);
  }
}

export const RUNTIME_MIGRATIONS: Record<string, Migration> = {
  '001_checkpoints_and_nodes': {
    async up(db: Kysely<any>) {
      await db.schema.createTable('checkpoints')
        .addColumn('actor_id', 'text', (c) => c.primaryKey())
        .addColumn('actor_type', 'text', (c) => c.notNull())
        .addColumn('partition', 'integer', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('tick', 'integer', (c) => c.notNull())
        .addColumn('state', 'bytea', (c) => c.notNull())
        .addColumn('outbox_id', 'text', (c) => c.notNull())
        .addColumn('epoch', 'bigint', (c) => c.notNull())
        .addColumn('finished', 'boolean', (c) => c.notNull().defaultTo(false))
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema.createIndex('checkpoints_unfinished').on('checkpoints')
        .columns(['partition']).where(sql.ref('finished'), '=', false).execute();
      await db.schema.createTable('nodes')
        .addColumn('node_id', 'text', (c) => c.primaryKey())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('started_at', 'timestamptz', (c) => c.notNull())
        .addColumn('last_seen', 'timestamptz', (c) => c.notNull())
        .addColumn('stopped_at', 'timestamptz')
        .execute();
    },
  },
  '002_checkpoints_per_cluster': {
    // rows written before this belong to whichever cluster starts first after it (see adoptCheckpoints)
    async up(db: Kysely<any>) {
      await sql`ALTER TABLE checkpoints ADD COLUMN cluster text NOT NULL DEFAULT ''`.execute(db);
      await sql`ALTER TABLE checkpoints DROP CONSTRAINT checkpoints_pkey, ADD PRIMARY KEY (cluster, actor_id)`.execute(db);
      await db.schema.dropIndex('checkpoints_unfinished').execute();
      await db.schema.createIndex('checkpoints_unfinished').on('checkpoints')
        .columns(['cluster', 'partition']).where(sql.ref('finished'), '=', false).execute();
    },
  },
};

/** Gives checkpoints written before they carried their cluster to this one (a database had one cluster then). */
export async function adoptCheckpoints(db: Kysely<RuntimeTables>, cluster: string): Promise<void> {
  await db.updateTable('checkpoints').set({ cluster }).where('cluster', '=', '').execute();
}
